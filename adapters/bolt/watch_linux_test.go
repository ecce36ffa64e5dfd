package bolt

// testedFlavours: Linux runs its own abstract socket and the socket file
// that macOS uses.
var testedFlavours = []feedFlavour{flavourAbstract, flavourSocketFile}
