package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// A pid file tells `keystile reload` which process serves a configuration.
// serve holds an exclusive flock on it while it runs, so reload can tell a
// live server from a stale file whose pid the system may have given to an
// unrelated process (SIGHUP would end most programs), and a second serve
// of the same configuration is refused instead of fighting over the port.

// holdPIDFile writes this process's id to path and locks it until release,
// which also removes it.
func holdPIDFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid_file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("pid_file %s is held by another keystile serve of this configuration", path)
		}
		return nil, fmt.Errorf("pid_file %s: locking: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pid_file %s: %w", path, err)
	}
	return func() {
		_ = os.Remove(path) // before the lock goes: no window where a stale file looks live
		f.Close()
	}, nil
}

// signalServer sends sig to the serve process that holds the pid file at
// path, and returns its pid.
func signalServer(path string, sig syscall.Signal) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("no server is running with this configuration (pid_file %s does not exist)", path)
	}
	if err != nil {
		return 0, fmt.Errorf("pid_file: %w", err)
	}
	defer f.Close()
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); {
	case err == nil:
		return 0, fmt.Errorf("no server is running with this configuration (pid_file %s is left over from one that stopped)", path)
	case !errors.Is(err, syscall.EWOULDBLOCK):
		return 0, fmt.Errorf("pid_file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pid_file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid_file %s does not hold a process id (the server may be starting: try again)", path)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, fmt.Errorf("signalling keystile serve (pid %d): %w", pid, err)
	}
	return pid, nil
}
