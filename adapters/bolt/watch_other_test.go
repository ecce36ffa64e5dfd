//go:build !linux && !darwin

package bolt

// testedFlavours: no feed here; TestWithoutAFeed covers the polling fallback.
var testedFlavours []feedFlavour
