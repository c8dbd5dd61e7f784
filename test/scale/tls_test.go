package scale

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

	"github.com/go-redis/redis/v8"

	"go-jwt/test/proc"
)

// authority is a test CA: its certificate file and what signs with it.
type authority struct {
	certPath string
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
}

// newAuthority makes a CA valid from notBefore to notAfter, written to dir.
func newAuthority(t *testing.T, dir, name string, notBefore, notAfter time.Time) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(randomUint(t))), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	a := &authority{certPath: filepath.Join(dir, name+".pem"), cert: cert, key: key}
	writePEM(t, a.certPath, "CERTIFICATE", der)
	return a
}

// serverCert issues a certificate for 127.0.0.1 and writes it and its key
// to dir.
func (a *authority) serverCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(randomUint(t))), Subject: pkix.Name{CommonName: "redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "EC PRIVATE KEY", keyDER)
	return certPath, keyPath
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// aclRules are the least an ACL user of the service needs (docs/SCALING.md):
// its keys, the command categories it uses, and on a Cluster the two
// commands the client learns the cluster with.
const aclRules = "resetkeys ~u:* ~s:* ~m:* ~pk:* ~pkh:* ~pkc:* ~dpop:* ~rate:* ~users ~admins resetchannels -@all +@read +@write +@scripting +@connection +@transaction +time +cluster|slots +command"

// TestTLSAndACLUser runs the service against a redis-server that speaks
// only TLS and knows only one ACL user, with aclRules: REDIS_TLS, REDIS_TLS_CA,
// REDIS_USERNAME and REDIS_PASSWORD get it in; a wrong CA, no TLS or a wrong
// user stop start-up with one line naming the variable.
func TestTLSAndACLUser(t *testing.T) {
	dir := t.TempDir()
	ca := newAuthority(t, dir, "ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	other := newAuthority(t, dir, "other-ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	certPath, keyPath := ca.serverCert(t, dir)
	const user, pass = "gojwt", "acl-password-for-the-test"
	conf := "tls-cert-file " + certPath + "\ntls-key-file " + keyPath + "\ntls-ca-cert-file " + ca.certPath + "\n" +
		"tls-auth-clients no\nuser default off\nuser " + user + " on >" + pass + " " + aclRules + "\n"
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	r := startRedisPing(t, "redis-tls", conf, func(o *redis.Options) {
		o.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		o.Username, o.Password = user, pass
	}, "--port", "0", "--tls-port", "{port}", "--save", "", "--appendonly", "no")

	vars := serviceEnv(t, proc.RandomHex(t, 32))
	vars["REDIS_ADDR"] = r.Addr
	vars["REDIS_TLS"] = "on"
	vars["REDIS_TLS_CA"] = ca.certPath
	vars["REDIS_USERNAME"] = user
	vars["REDIS_PASSWORD"] = pass
	s := startService(t, "service", vars)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, ctx)
	p := c.login(s, s.user, s.pass)
	c.welcome(s, p.Access, http.StatusOK)
	next := c.refresh(s, p)
	c.do(http.StatusOK, http.MethodPost, s.base+"/user/logout", next.Access, nil)
	c.welcome(s, next.Access, http.StatusUnauthorized)

	tests := []struct {
		name   string
		change map[string]string
		want   string // the start of the last line, after "go-jwt: "
		detail string
	}{
		{"CA that did not sign the server", map[string]string{"REDIS_TLS_CA": other.certPath}, "REDIS_ADDR:", "certificate"},
		{"no TLS", map[string]string{"REDIS_TLS": "off", "REDIS_TLS_CA": ""}, "REDIS_ADDR:", "cannot reach Redis"},
		{"wrong password", map[string]string{"REDIS_PASSWORD": "wrong"}, "REDIS_ADDR:", "WRONGPASS"},
		{"no user: the default user is off", map[string]string{"REDIS_USERNAME": "", "REDIS_PASSWORD": ""}, "REDIS_ADDR:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := serviceEnv(t, proc.RandomHex(t, 32))
			for k, v := range vars {
				env[k] = v
			}
			for k, v := range tc.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			svc, err := launch(t, "bad", env)
			if err != nil {
				t.Fatal(err)
			}
			log, ok := svc.exit(15 * time.Second)
			if !ok {
				t.Fatal("still running after 15s")
			}
			ls := strings.Split(strings.TrimSpace(log), "\n")
			last := ls[len(ls)-1]
			t.Logf("last line: %s", last)
			if !strings.HasPrefix(last, "go-jwt: "+tc.want) || !strings.Contains(last, tc.detail) {
				t.Fatalf("last line %q, want it to start with %q and mention %q", last, "go-jwt: "+tc.want, tc.detail)
			}
		})
	}
}
