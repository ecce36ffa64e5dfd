package policyfile

import (
	"io/fs"
	"syscall"
	"time"
)

// sysStamp is the inode and ctime: a rename over the file changes them even
// when size and mtime match.
func sysStamp(fi fs.FileInfo) (ino uint64, ctime time.Time) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, time.Unix(st.Ctimespec.Sec, st.Ctimespec.Nsec)
	}
	return 0, time.Time{}
}
