//go:build unix

package policyfile

import "io/fs"

// othersMayWrite reports whether the file's mode lets anyone write it.
func othersMayWrite(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o002 != 0 }
