package tests

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// BenchmarkStartupToDiscovery is the time from starting `keystile serve`
// (the exec) to its first 200 on /.well-known/openid-configuration, with
// the signing key already in the store (sealed, as in production), on
// SQLite and on PostgreSQL: what a restart or a new replica costs before it
// serves. Discovery is polled every millisecond; median-ms is the median of
// the runs (run with -benchtime=20x), less noisy than the mean ns/op.
func BenchmarkStartupToDiscovery(b *testing.B) {
	for _, st := range []struct {
		name string
		spec func(b *testing.B, dir string) string
	}{
		{"sqlite", func(b *testing.B, dir string) string { return "sqlite:" + filepath.Join(dir, "keystile.db") }},
		{"postgres", func(b *testing.B, dir string) string { return postgrestest.URL(b) }},
	} {
		b.Run(st.name, func(b *testing.B) {
			dir := b.TempDir()
			addr := freePort(b)
			writeFile(b, filepath.Join(dir, "kek"), "a key-encryption secret of at least 32 bytes, for the bench")
			writeFile(b, filepath.Join(dir, "users.yaml"), fmt.Sprintf("users:\n  - username: alice\n    password_hash: %q\n", sitePasswordHash(b, clusterPassword)))
			_, secretHash := newClientSecret(b)
			config := filepath.Join(dir, "keystile.yaml")
			writeFile(b, config, fmt.Sprintf(`issuer: http://%[1]s
listen: %[1]s
store: %q
signing:
  algorithm: ES256
  key_encryption_secret_file: kek
users_file: users.yaml
%s`, addr, st.spec(b, dir), siteClients(secretHash)))
			discovery := "http://" + addr + "/.well-known/openid-configuration"
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
			// One start creates the key; every measured start finds it.
			startToFirst200(b, dir, config, discovery, client)
			var took []time.Duration
			for b.Loop() {
				took = append(took, startToFirst200(b, dir, config, discovery, client))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// startToFirst200 starts the server, polls url every millisecond until it
// answers 200, stops the server, and returns the time from the exec to the
// 200.
func startToFirst200(b *testing.B, dir, config, url string, client *http.Client) time.Duration {
	cmd := exec.Command(binary(b), "serve", "--config", config)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	exited := make(chan struct{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { cmd.Wait(); close(exited) }()
	var took time.Duration
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				took = time.Since(start)
				break
			}
		}
		select {
		case <-exited:
			b.Fatalf("keystile serve exited before answering (%v):\n%s", cmd.ProcessState, stderr.String())
		case <-time.After(time.Millisecond):
		}
		if time.Since(start) > 30*time.Second {
			cmd.Process.Kill()
			<-exited
			b.Fatalf("no 200 on %s within 30 s (last error %v):\n%s", url, err, stderr.String())
		}
	}
	b.StopTimer()
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if !cmd.ProcessState.Success() {
		b.Fatalf("keystile serve after SIGTERM: %v\n%s", cmd.ProcessState, stderr.String())
	}
	b.StartTimer()
	return took
}
