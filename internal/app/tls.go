package app

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// tlsConfig loads the server's certificate (OCPP security profile 2).
func tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("app: TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ocppURL is where chargers of this process (the sandbox's) connect.
func (a *App) ocppURL() string {
	if a.tls != nil {
		return "wss://" + a.Addr() + "/ocpp"
	}
	return "ws://" + a.Addr() + "/ocpp"
}

// selfTLS lets the sandbox's virtual chargers connect to this server over
// TLS: the address is loopback, so the name in the certificate cannot be
// checked; instead the server must present exactly the configured
// certificate (pinning).
func (a *App) selfTLS() *tls.Config {
	if a.tls == nil {
		return nil
	}
	want := a.tls.Certificates[0].Certificate[0]
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("app: the server did not present its own certificate")
			}
			return nil
		},
	}
}
