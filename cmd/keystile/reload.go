package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
)

// runReload is `keystile reload --config FILE`: SIGHUP to the server of
// that configuration and no other, found through its pid_file (`kill -HUP
// $(pidof keystile)` would reach every keystile on the machine). The
// configuration is checked first, so a broken users file is reported here
// rather than only in the server's log.
func runReload(args []string, stdout, _ io.Writer) error {
	flags := flag.NewFlagSet("reload", flag.ContinueOnError)
	configPath, err := parseWithConfig(flags, args)
	if err != nil {
		return err
	}
	s, err := loadConfig(configPath, os.Getenv)
	if err != nil {
		return fmt.Errorf("%w\nthe running server keeps its files until this is fixed", err)
	}
	if s.PIDFile == "" {
		return fmt.Errorf("%s sets no pid_file, so the server cannot be found: set pid_file (e.g. pid_file: keystile.pid) and restart it, or send SIGHUP to its process yourself (systemd: ExecReload=kill -HUP $MAINPID)", configPath)
	}
	pid, err := signalServer(s.PIDFile, syscall.SIGHUP)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keystile: asked the server (pid %d) to reload its clients, key and users files; its log says how it went\n", pid)
	return nil
}
