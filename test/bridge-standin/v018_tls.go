//go:build memoh_v018

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// loadBridgeTLS reads the BRIDGE_TLS_* env for the TCP listener. Empty or "disabled" mode → plaintext (nil);
// "strict" → mutual TLS; anything else, a missing variable or unreadable material → error (exit 1).
func loadBridgeTLS(br breakSet) (*tls.Config, error) {
	mode := strings.TrimSpace(os.Getenv("BRIDGE_TLS_MODE"))
	switch mode {
	case "", "disabled":
		return nil, nil
	case "strict":
	default:
		return nil, fmt.Errorf("BRIDGE_TLS_MODE %q is not one of disabled, strict", mode)
	}
	get := func(name string) (string, error) {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return "", fmt.Errorf("%s is required when BRIDGE_TLS_MODE=strict", name)
		}
		return v, nil
	}
	var vals [4]string
	for i, name := range []string{"BRIDGE_TLS_CERT_FILE", "BRIDGE_TLS_KEY_FILE", "BRIDGE_TLS_CLIENT_CA_FILE", "BRIDGE_TLS_EXPECTED_CLIENT_URI"} {
		v, err := get(name)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	certFile, keyFile, caFile, wantURI := vals[0], vals[1], vals[2], vals[3]
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load bridge server certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("client CA %s holds no PEM certificate", caFile)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	if br.on("tls-no-client-cert") {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if !br.on("tls-no-uri-check") {
		// Chain verification already ran (RequireAndVerifyClientCert); a leaf without any EKU passes it,
		// so the ClientAuth EKU and the URI SAN are checked on the leaf explicitly.
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				if cfg.ClientAuth == tls.VerifyClientCertIfGiven {
					return nil
				}
				return errors.New("client certificate required")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			hasEKU := false
			for _, u := range leaf.ExtKeyUsage {
				if u == x509.ExtKeyUsageClientAuth {
					hasEKU = true
				}
			}
			if !hasEKU {
				return errors.New("client certificate lacks the ClientAuth extended key usage")
			}
			for _, u := range leaf.URIs {
				if u.String() == wantURI {
					return nil
				}
			}
			return fmt.Errorf("client certificate has no URI SAN %s", wantURI)
		}
	}
	return cfg, nil
}
