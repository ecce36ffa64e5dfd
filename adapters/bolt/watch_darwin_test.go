package bolt

var testedFlavours = []feedFlavour{flavourSocketFile}
