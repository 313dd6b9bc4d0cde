// Command firstok times a server's start: from exec to the first 200 answer
// on a URL, over several restarts, to the millisecond.
//
//	firstok -url http://127.0.0.1:9400/.well-known/openid-configuration -runs 15 -- keystile serve --config k.yaml
//
// It starts the command, asks the URL every millisecond (a fresh connection
// each time, so a refused connection is seen at once), stops the command with
// SIGTERM once the answer is a 200 and waits for it to exit, then starts it
// again. It prints one line per run and a last line "median_ms N". A shell
// loop of curl and sleep would measure curl's own start (a few ms) and the
// sleep's granularity instead of the server.
//
// The URL must be on loopback, and every run is bounded (-timeout).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	rawURL := flag.String("url", "", "the URL whose first 200 ends the clock (loopback only)")
	runs := flag.Int("runs", 15, "how many starts to time")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a start after this long")
	logPath := flag.String("log", os.DevNull, "where the server's stdout and stderr go")
	flag.Parse()
	if flag.NArg() == 0 || *runs < 1 {
		log.Fatal("usage: firstok -url URL [-runs N] -- COMMAND [ARGS...]")
	}
	u, err := url.Parse(*rawURL)
	if err != nil || !loopback(u.Hostname()) {
		log.Fatalf("-url %q: want an http URL on a loopback address", *rawURL)
	}
	out, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()

	var times []float64
	for i := range *runs {
		ms, err := once(flag.Args(), u.String(), *timeout, out)
		if err != nil {
			log.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Printf("run %d: %.1f ms\n", i+1, ms)
		times = append(times, ms)
	}
	slices.Sort(times)
	median := times[len(times)/2]
	if len(times)%2 == 0 {
		median = (times[len(times)/2-1] + median) / 2
	}
	fmt.Printf("median_ms %.1f\n", median)
}

// once starts the command, waits for a 200 on url and stops the command; it
// returns the milliseconds from exec to the end of the 200's headers.
func once(argv []string, url string, timeout time.Duration, out *os.File) (float64, error) {
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stop(cmd, exited)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		select {
		case err := <-exited:
			exited <- err // for stop
			return 0, fmt.Errorf("the server exited before answering 200: %v", err)
		case <-ctx.Done():
			return 0, errors.New("no 200 within " + timeout.String())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return float64(time.Since(start).Microseconds()) / 1000, nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// stop ends the server with SIGTERM (a clean shutdown, so that SQLite closes
// its WAL as in real use) and, if it lingers past 10 s, with SIGKILL.
func stop(cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
