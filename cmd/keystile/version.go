package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion is `keystile version` and `keystile --version`: the module
// version, the VCS revision and time the binary was built from, and the
// Go version, from the build information the go command embeds.
func runVersion(args []string, stdout io.Writer) error {
	if err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

func versionLine() string {
	version, revision, when, modified := "unknown", "unknown", "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	return fmt.Sprintf("keystile %s revision %s%s%s %s %s/%s", version, revision, when, modified,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
