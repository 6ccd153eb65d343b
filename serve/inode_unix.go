//go:build unix

package serve

import (
	"os"
	"syscall"
)

// inode returns the file's inode number (0 where unknown): a file replaced
// by a rename has a new one even with the same size and time.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
