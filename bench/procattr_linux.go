package main

import (
	"os/exec"
	"syscall"
)

// dieWithBench makes c die with the bench even when the bench itself is
// killed (or its output pipe closes) before it can stop what it started.
func dieWithBench(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
