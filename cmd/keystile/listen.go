package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// listenTCP listens on addr. A port in use says how to choose another:
// the most common failure of a first start, with a quickstart or a second
// server already running.
func listenTCP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is already in use, by another keystile or another program: choose another port with --listen, e.g. --listen %s", addr, nextPort(addr))
	}
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	return ln, nil
}

// nextPort is addr with the port after its own.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n <= 0 || n >= 65535 {
		return "127.0.0.1:9001"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}
