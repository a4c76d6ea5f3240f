// Command pki writes the certificates and keys of a local test cluster into a directory:
// a CA, the API server's serving certificate, client certificates for the admin and each
// control-plane component, and the service-account signing key pair. Standard library only.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type client struct{ file, cn, org string }

func main() {
	dir := flag.String("dir", "", "output directory")
	flag.Parse()
	if *dir == "" {
		log.Fatal("pki: --dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		log.Fatal(err)
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "rigshift-local-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	check(err)
	ca, err := x509.ParseCertificate(caDER)
	check(err)
	writeCert(*dir, "ca", caDER, caKey)

	serving := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	issue(*dir, "apiserver", serving, ca, caKey)

	for _, c := range []client{
		{"admin", "rigshift-admin", "system:masters"},
		{"controller-manager", "system:kube-controller-manager", ""},
		{"scheduler", "system:kube-scheduler", ""},
		{"kwok", "kwok-controller", "system:masters"},
	} {
		t := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: c.cn},
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if c.org != "" {
			t.Subject.Organization = []string{c.org}
		}
		issue(*dir, c.file, t, ca, caKey)
	}

	saKey := newKey()
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	check(err)
	writePEM(*dir, "sa.pub", "PUBLIC KEY", pub)
	writeKey(*dir, "sa", saKey)
}

func issue(dir, name string, t *x509.Certificate, ca *x509.Certificate, caKey *ecdsa.PrivateKey) {
	key := newKey()
	t.NotBefore = time.Now().Add(-time.Hour)
	t.NotAfter = time.Now().AddDate(1, 0, 0)
	t.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, t, ca, &key.PublicKey, caKey)
	check(err)
	writeCert(dir, name, der, key)
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	return k
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	check(err)
	return n
}

func writeCert(dir, name string, der []byte, key *ecdsa.PrivateKey) {
	writePEM(dir, name+".crt", "CERTIFICATE", der)
	writeKey(dir, name, key)
}

func writeKey(dir, name string, key *ecdsa.PrivateKey) {
	der, err := x509.MarshalECPrivateKey(key)
	check(err)
	writePEM(dir, name+".key", "EC PRIVATE KEY", der)
}

func writePEM(dir, file, typ string, der []byte) {
	check(os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
