package policyfile

import "io/fs"

// othersMayWrite: on Windows the mode bits only say read-only or not (every
// writable file shows 0666); access is the file's ACL, which is not checked.
func othersMayWrite(fs.FileInfo) bool { return false }
