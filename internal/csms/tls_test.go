package csms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/ocppj"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "joule-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Security profile 2: HTTP Basic over TLS. With a certificate configured
// the server speaks only TLS, chargers connect over wss://, and the
// sandbox's own virtual chargers do too.
func TestSecurityProfile2TLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	j := apitest.StartWith(t, t.TempDir()+"/j.db", func(c *app.Config) { c.TLSCertFile, c.TLSKeyFile = certFile, keyFile })
	j.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if !strings.HasPrefix(j.URL, "https://") {
		t.Fatalf("base URL %s", j.URL)
	}
	id, pw := newStation(t, j, "CP-TLS")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := strings.TrimPrefix(j.URL, "https://")
	conn, err := ocppj.Dial(ctx, "wss://"+addr+"/ocpp/CP-TLS", ocppj.DialOptions{Identity: "CP-TLS", Username: "CP-TLS", Password: pw,
		TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	go conn.Serve(context.Background())
	defer conn.CloseNow()
	if _, err := conn.Call(ctx, "Heartbeat", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if st := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil); st["online"] != true {
		t.Fatalf("station over TLS: %v", st["online"])
	}
	// Plain ws:// is not served.
	if _, err := ocppj.Dial(ctx, "ws://"+addr+"/ocpp/CP-TLS", ocppj.DialOptions{Username: "CP-TLS", Password: pw}); err == nil {
		t.Fatal("plain websocket accepted on the TLS port")
	}
	// The sandbox chargers came online over TLS too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		online := 0
		for _, s := range j.Must(t, 200, j.Key, "GET", "/v1/chargestations?limit=100&online=true", nil)["data"].([]any) {
			if strings.HasPrefix(s.(map[string]any)["identity"].(string), "SANDBOX-") {
				online++
			}
		}
		if online == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sandbox chargers online over TLS", online)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
