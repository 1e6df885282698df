// Test-bed helper for the Kubernetes test bed (test/bed/index.ts). Two subcommands:
//
//	bed-webhook certs -dir DIR
//	    writes a fresh test CA and, signed by it, a serving certificate for 127.0.0.1/localhost
//	    (used by kube-apiserver and by the fault proxy), plus a service-account signing key pair.
//	bed-webhook serve -config FILE [-listen 127.0.0.1:0]
//	    a TokenReview webhook (kube-apiserver --authentication-token-webhook-config-file) that
//	    authenticates EKS bearer tokens ("k8s-aws-v1." + base64url(presigned STS URL)) the way
//	    aws-iam-authenticator and STS do together: the URL checks of aws-iam-authenticator's
//	    Verify(), then STS's SigV4 query-signature verification against a table of test IAM
//	    identities. Prints "LISTENING <addr>" on stdout once it accepts connections.
//	bed-webhook supervise -- PROGRAM ARGS...
//	    runs PROGRAM and kills it when stdin closes or when the supervisor dies (PDEATHSIG), so
//	    no etcd or kube-apiserver outlives the test process that started it.
//
// The SigV4 verifier is written here from the specification, independently of the product's
// signing library. Tokens and secret keys never appear in its logs or answers.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bed-webhook certs -dir DIR | serve -config FILE [-listen ADDR]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "certs":
		fs := flag.NewFlagSet("certs", flag.ExitOnError)
		dir := fs.String("dir", "", "output directory")
		_ = fs.Parse(os.Args[2:])
		if *dir == "" {
			log.Fatal("certs: -dir is required")
		}
		if err := writeCerts(*dir); err != nil {
			log.Fatalf("certs: %v", err)
		}
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		config := fs.String("config", "", "JSON configuration file")
		listen := fs.String("listen", "127.0.0.1:0", "listen address")
		_ = fs.Parse(os.Args[2:])
		if *config == "" {
			log.Fatal("serve: -config is required")
		}
		if err := serve(*config, *listen); err != nil {
			log.Fatalf("serve: %v", err)
		}
	case "supervise":
		// supervise -- PROGRAM ARGS...: runs PROGRAM and guarantees it does not outlive the test
		// process: it is killed when stdin closes (the parent died or let go) and, through
		// PDEATHSIG, when this supervisor dies.
		args := os.Args[2:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			log.Fatal("supervise: no program given")
		}
		os.Exit(supervise(args))
	default:
		fmt.Fprintf(os.Stderr, "unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
}

// ---------------------------------------------------------------------------------------------
// supervise

func supervise(args []string) int {
	// PDEATHSIG fires when the thread that started the child exits: keep this one.
	runtime.LockOSThread()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "supervise: starting %s: %v\n", args[0], err)
		return 127
	}
	stop := func(sig os.Signal) {
		_ = cmd.Process.Signal(sig)
		go func() {
			time.Sleep(5 * time.Second)
			_ = cmd.Process.Kill()
		}()
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop(syscall.SIGTERM)
	}()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for sig := range sigs {
			stop(sig)
		}
	}()
	err := cmd.Wait()
	if exitErr, ok := err.(*exec.ExitError); ok {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------------------------
// certs

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	return key, der, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func writeCerts(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	caKey, caKeyDER, err := newKey()
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ecr-token-rotator test bed CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, srvKeyDER, err := newKey()
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	_, saKeyDER, err := newKey()
	if err != nil {
		return err
	}
	saKey, _ := x509.ParseECPrivateKey(saKeyDER)
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"ca.crt", "CERTIFICATE", caDER, 0o644},
		{"ca.key", "EC PRIVATE KEY", caKeyDER, 0o600},
		{"serving.crt", "CERTIFICATE", srvDER, 0o644},
		{"serving.key", "EC PRIVATE KEY", srvKeyDER, 0o600},
		{"sa.key", "EC PRIVATE KEY", saKeyDER, 0o600},
		{"sa.pub", "PUBLIC KEY", saPubDER, 0o644},
	} {
		if err := writePEM(filepath.Join(dir, f.name), f.typ, f.der, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// identities and configuration

// Identity is one test IAM identity: the credentials STS knows, the IAM role ARN they belong to,
// and the Kubernetes user the EKS access entry of that ARN maps to.
type Identity struct {
	AccessKeyID     string   `json:"accessKeyId"`
	SecretAccessKey string   `json:"secretAccessKey,omitempty"`
	SessionToken    string   `json:"sessionToken,omitempty"` // if set, the token must carry exactly this one
	Arn             string   `json:"arn"`
	Username        string   `json:"username"`
	Groups          []string `json:"groups"`
	// SessionName: for role credentials, the session the assumed-role ARN names (default
	// "bed-session"). "{{SessionName}}" in Username is replaced by it, as EKS access entries do.
	SessionName string `json:"sessionName,omitempty"`
	// Unmapped: STS knows the credentials but no access entry maps the role: the signature is
	// verified, then the token is refused naming the ARN (what aws-iam-authenticator logs).
	Unmapped bool `json:"unmapped,omitempty"`
}

type Config struct {
	ClusterName string     `json:"clusterName"`
	Identities  []Identity `json:"identities"`
}

type Decision struct {
	Time          string `json:"time"`
	Authenticated bool   `json:"authenticated"`
	Reason        string `json:"reason,omitempty"`
	Username      string `json:"username,omitempty"`
	Arn           string `json:"arn,omitempty"`
	AccessKeyID   string `json:"accessKeyId,omitempty"`
}

type server struct {
	mu          sync.Mutex
	clusterName string
	identities  map[string]Identity
	decisions   []Decision
	now         func() time.Time
}

func (s *server) lookup(akid string) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.identities[akid]
	return id, ok
}

func (s *server) record(d Decision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, d)
	if len(s.decisions) > 500 {
		s.decisions = s.decisions[len(s.decisions)-500:]
	}
}

// ---------------------------------------------------------------------------------------------
// token verification

const (
	v1Prefix         = "k8s-aws-v1."
	maxTokenLen      = 4096
	clusterIDHeader  = "x-k8s-aws-id"
	dateFormat       = "20060102T150405Z"
	presignedExpiry  = 15 * time.Minute
	maxClockSkew     = 15 * time.Minute
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// The query parameters aws-iam-authenticator accepts (compared lower-cased).
var allowedParams = map[string]bool{
	"action": true, "version": true, "x-amz-algorithm": true, "x-amz-credential": true,
	"x-amz-date": true, "x-amz-expires": true, "x-amz-security-token": true,
	"x-amz-signature": true, "x-amz-signedheaders": true,
}

var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// stsRegion checks the STS host shape and returns the region the signature is scoped to.
func stsRegion(host string) (string, error) {
	if host == "sts.amazonaws.com" {
		return "us-east-1", nil // the global endpoint exists in the aws partition only
	}
	var rest string
	switch {
	case strings.HasPrefix(host, "sts-fips."):
		rest = strings.TrimPrefix(host, "sts-fips.")
	case strings.HasPrefix(host, "sts."):
		rest = strings.TrimPrefix(host, "sts.")
	default:
		return "", fmt.Errorf("unexpected hostname %q in pre-signed URL", host)
	}
	for _, suffix := range []string{".amazonaws.com.cn", ".amazonaws.com", ".api.aws"} {
		if strings.HasSuffix(rest, suffix) {
			region := strings.TrimSuffix(rest, suffix)
			if !regionRe.MatchString(region) {
				break
			}
			isCN := strings.HasPrefix(region, "cn-")
			if (suffix == ".amazonaws.com.cn") != isCN {
				break
			}
			return region, nil
		}
	}
	return "", fmt.Errorf("unexpected hostname %q in pre-signed URL", host)
}

func awsURIEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

// verify returns the identity a token belongs to, or the reason it is refused.
func (s *server) verify(token string) (Identity, map[string]string, error) {
	var none Identity
	if len(token) > maxTokenLen {
		return none, nil, errors.New("token is too large")
	}
	if !strings.HasPrefix(token, v1Prefix) {
		return none, nil, fmt.Errorf("token is missing expected %q prefix", v1Prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, v1Prefix))
	if err != nil {
		return none, nil, fmt.Errorf("token is not base64url without padding: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return none, nil, errors.New("token does not hold a URL")
	}
	if u.Scheme != "https" {
		return none, nil, fmt.Errorf("unexpected scheme %q in pre-signed URL", u.Scheme)
	}
	hostRegion, err := stsRegion(u.Host)
	if err != nil {
		return none, nil, err
	}
	if u.Path != "/" {
		return none, nil, errors.New("unexpected path in pre-signed URL")
	}
	if u.User != nil || u.Fragment != "" || u.RawFragment != "" {
		return none, nil, errors.New("unexpected user info or fragment in pre-signed URL")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return none, nil, errors.New("malformed query parameter")
	}
	lower := map[string]string{}
	for key, values := range query {
		lk := strings.ToLower(key)
		if !allowedParams[lk] {
			return none, nil, fmt.Errorf("non-whitelisted query parameter %q", key)
		}
		if len(values) != 1 {
			return none, nil, errors.New("query parameter with multiple values not supported")
		}
		if _, dup := lower[lk]; dup {
			return none, nil, fmt.Errorf("duplicate query parameter %q", key)
		}
		lower[lk] = values[0]
	}
	if lower["action"] != "GetCallerIdentity" {
		return none, nil, errors.New("unexpected action parameter in pre-signed URL")
	}
	signedHeaders := strings.Split(lower["x-amz-signedheaders"], ";")
	hasClusterID := false
	for _, h := range signedHeaders {
		if strings.ToLower(h) == clusterIDHeader {
			hasClusterID = true
		}
	}
	if !hasClusterID {
		return none, nil, fmt.Errorf("client did not sign the %s header in the pre-signed URL", clusterIDHeader)
	}
	expires, err := strconv.Atoi(lower["x-amz-expires"])
	if err != nil || expires < 0 || expires > 900 {
		return none, nil, fmt.Errorf("invalid X-Amz-Expires parameter in pre-signed URL: %q", lower["x-amz-expires"])
	}
	date := lower["x-amz-date"]
	if date == "" {
		return none, nil, errors.New("X-Amz-Date parameter must be present in pre-signed URL")
	}
	signedAt, err := time.Parse(dateFormat, date)
	if err != nil {
		return none, nil, fmt.Errorf("error parsing X-Amz-Date parameter %q", date)
	}
	now := s.now()
	if now.After(signedAt.Add(presignedExpiry)) {
		return none, nil, fmt.Errorf("X-Amz-Date parameter is expired (15 minute expiration) %s", signedAt.Format(time.RFC3339))
	}

	// ---- what STS does with the forwarded request ----
	// aws-iam-authenticator sends the request with x-k8s-aws-id set to ITS cluster name, so a
	// token signed for another cluster fails here; say so explicitly.
	if lower["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
		return none, nil, errors.New("STS: unsupported X-Amz-Algorithm")
	}
	if signedAt.After(now.Add(maxClockSkew)) {
		return none, nil, errors.New("STS: signature not yet current (X-Amz-Date is in the future)")
	}
	scope := strings.Split(lower["x-amz-credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return none, nil, errors.New("STS: malformed X-Amz-Credential")
	}
	akid, scopeDate, scopeRegion, scopeService := scope[0], scope[1], scope[2], scope[3]
	if scopeService != "sts" {
		return none, nil, fmt.Errorf("STS: credential scope names service %q", scopeService)
	}
	if scopeDate != date[:8] {
		return none, nil, errors.New("STS: credential scope date does not match X-Amz-Date")
	}
	if scopeRegion != hostRegion {
		return none, nil, fmt.Errorf("STS: credential scope region %q does not match the endpoint's region %q", scopeRegion, hostRegion)
	}
	id, ok := s.lookup(akid)
	if !ok {
		return none, nil, errors.New("STS: InvalidClientTokenId (unknown access key id)")
	}
	if id.SessionToken != "" && subtle.ConstantTimeCompare([]byte(id.SessionToken), []byte(lower["x-amz-security-token"])) != 1 {
		return none, nil, errors.New("STS: InvalidClientTokenId (security token does not match)")
	}
	// Canonical request: GET, path "/", every query parameter but the signature, the signed
	// headers as the authenticator sends them, and the hash of the empty body.
	var qs []string
	for key, values := range query {
		if strings.EqualFold(key, "X-Amz-Signature") {
			continue
		}
		qs = append(qs, awsURIEncode(key)+"="+awsURIEncode(values[0]))
	}
	sort.Strings(qs)
	forwarded := map[string]string{
		"host":          u.Host,
		clusterIDHeader: s.clusterName,
		"accept":        "application/json",
	}
	var canonHeaders strings.Builder
	for _, h := range signedHeaders {
		if h != strings.ToLower(h) || h == "" {
			return none, nil, errors.New("STS: malformed X-Amz-SignedHeaders")
		}
		v, ok := forwarded[h]
		if !ok {
			return none, nil, fmt.Errorf("STS: signed header %q is not sent by the authenticator", h)
		}
		canonHeaders.WriteString(h + ":" + v + "\n")
	}
	canonical := strings.Join([]string{"GET", "/", strings.Join(qs, "&"), canonHeaders.String(), lower["x-amz-signedheaders"], emptyPayloadHash}, "\n")
	credScope := strings.Join(scope[1:], "/")
	stringToSign := "AWS4-HMAC-SHA256\n" + date + "\n" + credScope + "\n" + sha256Hex(canonical)
	key := hmacSHA256([]byte("AWS4"+id.SecretAccessKey), scopeDate)
	key = hmacSHA256(key, scopeRegion)
	key = hmacSHA256(key, scopeService)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(lower["x-amz-signature"])) != 1 {
		return none, nil, errors.New("STS: SignatureDoesNotMatch (tampered token, wrong secret key, or signed for another cluster than " + strconv.Quote(s.clusterName) + ")")
	}
	sessionName := ""
	if strings.Contains(id.Arn, ":role/") {
		sessionName = "bed-session"
		if id.SessionName != "" {
			sessionName = id.SessionName
		}
	}
	if id.Unmapped {
		return none, nil, fmt.Errorf("ARN is not mapped: %s (no access entry for %s)", assumedRoleArn(id.Arn, sessionName), id.Arn)
	}
	id.Username = strings.ReplaceAll(id.Username, "{{SessionName}}", sessionName)
	extra := map[string]string{
		"arn":          assumedRoleArn(id.Arn, sessionName),
		"canonicalArn": id.Arn,
		"accessKeyId":  akid,
		"sessionName":  sessionName,
	}
	return id, extra, nil
}

// assumedRoleArn is what STS GetCallerIdentity reports for a role session.
func assumedRoleArn(roleArn, session string) string {
	parts := strings.SplitN(roleArn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") || session == "" {
		return roleArn
	}
	name := parts[5][strings.LastIndex(parts[5], "/")+1:]
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parts[1], parts[4], name, session)
}

// ---------------------------------------------------------------------------------------------
// HTTP

type tokenReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences,omitempty"`
	} `json:"spec"`
}

type userInfo struct {
	Username string              `json:"username"`
	UID      string              `json:"uid"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

type reviewStatus struct {
	Authenticated bool      `json:"authenticated"`
	User          *userInfo `json:"user,omitempty"`
	Error         string    `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var review tokenReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&review); err != nil {
		http.Error(w, "bad TokenReview", http.StatusBadRequest)
		return
	}
	apiVersion := review.APIVersion
	if apiVersion == "" {
		apiVersion = "authentication.k8s.io/v1"
	}
	id, extra, err := s.verify(review.Spec.Token)
	d := Decision{Time: time.Now().UTC().Format(time.RFC3339Nano)}
	status := reviewStatus{}
	if err != nil {
		d.Reason = err.Error()
		status.Error = err.Error()
		log.Printf("unauthenticated: %s", err)
	} else {
		d.Authenticated, d.Username, d.Arn, d.AccessKeyID = true, id.Username, id.Arn, id.AccessKeyID
		groups := id.Groups
		if groups == nil {
			groups = []string{}
		}
		ex := map[string][]string{}
		for k, v := range extra {
			ex[k] = []string{v}
		}
		status.Authenticated = true
		status.User = &userInfo{Username: id.Username, UID: "aws-iam-authenticator:" + id.AccessKeyID, Groups: groups, Extra: ex}
		log.Printf("authenticated %s as %q", id.Arn, id.Username)
	}
	s.record(d)
	writeJSON(w, http.StatusOK, map[string]any{"apiVersion": apiVersion, "kind": "TokenReview", "status": status})
}

func (s *server) handleIdentities(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		list := []Identity{}
		for _, id := range s.identities {
			id.SecretAccessKey, id.SessionToken = "", ""
			list = append(list, id)
		}
		s.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].AccessKeyID < list[j].AccessKeyID })
		writeJSON(w, http.StatusOK, list)
	case http.MethodPost:
		var ids []Identity
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ids); err != nil {
			http.Error(w, "expected a JSON list of identities", http.StatusBadRequest)
			return
		}
		for _, id := range ids {
			if id.AccessKeyID == "" || id.SecretAccessKey == "" || id.Arn == "" || (id.Username == "" && !id.Unmapped) {
				http.Error(w, "identity needs accessKeyId, secretAccessKey, arn and username (or unmapped: true)", http.StatusBadRequest)
				return
			}
		}
		s.mu.Lock()
		for _, id := range ids {
			s.identities[id.AccessKeyID] = id
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		akid := r.URL.Query().Get("accessKeyId")
		s.mu.Lock()
		delete(s.identities, akid)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
	}
}

func (s *server) handleDecisions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodDelete {
		s.decisions = nil
		w.WriteHeader(http.StatusNoContent)
		return
	}
	list := append([]Decision{}, s.decisions...)
	writeJSON(w, http.StatusOK, list)
}

func serve(configPath, listen string) error {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("parsing %s: %v", configPath, err)
	}
	if cfg.ClusterName == "" {
		return errors.New("clusterName is required")
	}
	s := &server{clusterName: cfg.ClusterName, identities: map[string]Identity{}, now: time.Now}
	for _, id := range cfg.Identities {
		s.identities[id.AccessKeyID] = id
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/authenticate", s.handleAuthenticate)
	mux.HandleFunc("/identities", s.handleIdentities)
	mux.HandleFunc("/decisions", s.handleDecisions)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("LISTENING %s\n", ln.Addr().String())
	_ = os.Stdout.Sync()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
