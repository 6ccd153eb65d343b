//go:build !unix

package serve

import "os"

// inode is 0 where the platform has none: size and time identify a file.
func inode(os.FileInfo) uint64 { return 0 }
