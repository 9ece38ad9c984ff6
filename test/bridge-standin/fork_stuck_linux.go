//go:build !memoh_v018

package main

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// The exec-fork-stuck break: what qemu-user 7.2 does now and then to a child forked by a multi-threaded
// program (the child deadlocks inside the emulator before it reaches exec), reproduced on a native kernel,
// where it never happens by itself.
var (
	pipeExecs atomic.Int32
	stuckCopy sync.Once
)

// Registered here, not in breaks.go's table: that file is built into the v0.18 binary too, which stays as it
// was (the images that embed it need no rebuild), and breaks.test.ts's table is for the suite's §5 checks.
func init() {
	knownBreaks["exec-fork-stuck"] = "once 8 pipe Execs are in flight, a forked copy of the bridge never reaches exec " +
		"and holds their pipes (what qemu-user 7.2 does now and then; natively)"
}

// forkStuckCopy forks a plain copy of this process that waits forever and never execs: it holds every
// descriptor open at the fork, close-on-exec ones included (they close only at an exec). The child runs no
// Go runtime code, only raw system calls, as syscall.forkAndExecInChild does.
//
//go:nosplit
//go:norace
func forkStuckCopy() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return int(pid), errno
	}
	for {
		// ppoll with no descriptors and no timeout: sleeps until a signal (only SIGKILL is ever sent).
		syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}
