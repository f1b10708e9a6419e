// Package paymentstest runs stripe-mock (github.com/stripe/stripe-mock) for
// tests of the Stripe provider: Stripe's own stateless API simulator, which
// checks every request against Stripe's OpenAPI description and answers with
// fixtures.
package paymentstest

import (
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StripeMock starts stripe-mock on a free loopback port for the test and
// returns its URL. The test skips when the binary is absent, unless
// JOULE_REQUIRE_STRIPE_MOCK=1 (set by CI, which installs it with
// `go install github.com/stripe/stripe-mock@latest`), in which case it fails.
func StripeMock(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "stripe-mock")
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("JOULE_REQUIRE_STRIPE_MOCK") == "1" {
				t.Fatal("stripe-mock required but not installed (go install github.com/stripe/stripe-mock@latest)")
			}
			t.Skip("stripe-mock is not installed (go install github.com/stripe/stripe-mock@latest)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/v1/balance")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not start on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
