// Package testsupport holds helpers for tests that run real processes on loopback: a
// throw-away certificate authority, free ports, waiting for a listener.
package testsupport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority for tests.
type PKI struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caDER  []byte
}

// NewPKI makes a CA valid for an hour.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	p, err := NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewCA makes a CA valid for validFor, for what runs outside a test (make run).
func NewCA(validFor time.Duration) (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validFor),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &PKI{caCert: cert, caKey: key, caDER: der}, nil
}

// CAPEM is the CA's certificate in PEM.
func (p *PKI) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caDER})
}

func (p *PKI) issue(t testing.TB, names ...string) (certDER []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	der, key, err := p.issueErr(names...)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func (p *PKI) issueErr(names ...string) (certDER []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: p.caCert.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// IssuePEM issues a server certificate for names and returns it and its key in PEM, as a
// kubernetes.io/tls Secret holds them.
func (p *PKI) IssuePEM(names ...string) (certPEM, keyPEM []byte, err error) {
	der, key, err := p.issueErr(names...)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// ServerPEM is IssuePEM for a test.
func (p *PKI) ServerPEM(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	cert, key, err := p.IssuePEM(names...)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// WriteServerPEM writes certificate and key in one file, as HAProxy's `crt` wants them.
func (p *PKI) WriteServerPEM(t testing.TB, path string, names ...string) {
	t.Helper()
	cert, key := p.ServerPEM(t, names...)
	if err := os.WriteFile(path, append(cert, key...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteCA writes the CA certificate.
func (p *PKI) WriteCA(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, p.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TLSCert issues a server certificate for names.
func (p *PKI) TLSCert(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	der, key := p.issue(t, names...)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Pool is a pool holding the CA.
func (p *PKI) Pool() *x509.CertPool {
	cp := x509.NewCertPool()
	cp.AddCert(p.caCert)
	return cp
}
