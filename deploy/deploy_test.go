package deploy_test

// Tests that keep the deployment files (Dockerfile, .dockerignore,
// deploy/compose.yaml, deploy/kubernetes/, deploy/systemd/) true to the
// daemon: the commands they run exist, the probes ask paths the daemon
// serves, the configs they ship pass validation with their secrets in place,
// and the sandboxing stays on. No Docker, Kubernetes or systemd is needed.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/httpapi"
)

const (
	repoRoot  = ".."
	deployDir = "."
	// imageConfig is where the image's CMD, Compose and Kubernetes expect
	// the config.
	imageConfig = "/etc/maildesk/maildesk.yaml"
)

// knownCommand reports whether maildesk has the subcommand name: its
// --help prints its usage, before it does anything.
func knownCommand(t *testing.T, name string) bool {
	t.Helper()
	code, _, _ := runMaildesk(t, name, "--help")
	return code == 0
}

// probeServed reports whether the daemon's HTTP handler answers path with
// 200 (the readiness checks all passing).
func probeServed(path string) bool {
	rec := httptest.NewRecorder()
	httpapi.Handler(nil, httpapi.NewMetrics("x")).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code == http.StatusOK
}

// stubSecret is a value that passes as a password and as an API token.
func stubSecret(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// loadDeployedConfig writes config and contacts into a temp dir, with the
// secrets directory secretDir (an absolute path in the deployment) moved
// into the temp dir and holding secrets (file name to content), and loads
// it as the daemon would.
func loadDeployedConfig(t *testing.T, cfgText, contacts, secretDir string, secrets map[string]string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	sdir := filepath.Join(dir, "secrets")
	if err := os.Mkdir(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range secrets {
		if err := os.WriteFile(filepath.Join(sdir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secretDir = strings.TrimSuffix(secretDir, "/") + "/"
	if !strings.Contains(cfgText, secretDir) {
		t.Errorf("the config names no file under %s, where the secrets are", secretDir)
	}
	cfgText = strings.ReplaceAll(cfgText, secretDir, sdir+"/")
	path := filepath.Join(dir, "maildesk.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte(contacts), 0o600); err != nil {
		t.Fatal(err)
	}
	// What the daemon checks at start (the templates, the Redis URL too),
	// as check-config reports it.
	if code, out, errOut := runMaildesk(t, "check-config", "--config", path); code != 0 {
		return nil, fmt.Errorf("check-config: exit %d: %s%s", code, out, errOut)
	}
	return configload.Load(path)
}

// clearMaildeskEnv keeps MAILDESK_* variables of the caller's environment
// from changing the configs under test.
func clearMaildeskEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "MAILDESK_") {
			unsetEnv(t, name)
		}
	}
}

func listenPort(t *testing.T, listen string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("http.listen %q: %v", listen, err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// --- Dockerfile ---

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

type dockerfile struct {
	all []instruction
	// final is the instructions of the last stage, from its FROM.
	final []instruction
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		} else if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		df.all = append(df.all, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	for i, in := range df.all {
		if in.cmd == "FROM" {
			df.final = df.all[i:]
		}
	}
	return df
}

func (df dockerfile) find(cmd string) []instruction {
	var out []instruction
	for _, in := range df.final {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm parses a JSON exec form: ["a", "b"].
func execForm(t *testing.T, in instruction, s string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("Dockerfile:%d: %s must be in exec form [\"...\"] (the image has no shell): %q", in.line, in.cmd, s)
	}
	return argv
}

// shellWords splits a RUN command line into words, honouring double quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// imageFacts are what the image promises, as the Dockerfile says.
type imageFacts struct {
	binary      string   // the maildesk binary's path in the image
	entrypoint  []string // ENTRYPOINT
	cmd         []string // CMD
	healthcheck []string // HEALTHCHECK CMD
	user        string
	buildArgs   []string // of `go build`, -o and the package included
	version     string   // VERSION's default
}

func readImage(t *testing.T) imageFacts {
	t.Helper()
	df := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	var f imageFacts
	froms := df.find("FROM")
	if len(froms) != 1 || !strings.Contains(froms[0].args, "distroless/static") || !strings.HasSuffix(froms[0].args, ":nonroot") {
		t.Errorf("the runtime image is %+v, want distroless static, nonroot", froms)
	}
	for _, in := range df.find("COPY") {
		fields := strings.Fields(in.args)
		if strings.HasPrefix(fields[0], "--from=") && strings.HasSuffix(fields[len(fields)-2], "/maildesk") {
			f.binary = fields[len(fields)-1]
		}
	}
	if !filepath.IsAbs(f.binary) {
		t.Fatalf("no COPY --from of the maildesk binary to an absolute path in the final stage")
	}
	for _, in := range df.find("USER") {
		f.user = in.args
	}
	if uid, _, _ := strings.Cut(f.user, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("USER %q: want a numeric non-root user (Kubernetes' runAsNonRoot can only verify a number)", f.user)
	}
	ins := df.find("ENTRYPOINT")
	if len(ins) != 1 {
		t.Fatalf("want one ENTRYPOINT, got %d", len(ins))
	}
	f.entrypoint = execForm(t, ins[0], ins[0].args)
	if ins = df.find("CMD"); len(ins) != 1 {
		t.Fatalf("want one CMD, got %d", len(ins))
	}
	f.cmd = execForm(t, ins[0], ins[0].args)
	if ins = df.find("HEALTHCHECK"); len(ins) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %d", len(ins))
	}
	flags, form, ok := strings.Cut(ins[0].args, "CMD ")
	if !ok {
		t.Fatalf("Dockerfile:%d: HEALTHCHECK without CMD", ins[0].line)
	}
	f.healthcheck = execForm(t, ins[0], strings.TrimSpace(form))
	// Docker's timeout must leave the check its own (3s by default).
	for _, fl := range strings.Fields(flags) {
		if v, ok := strings.CutPrefix(fl, "--timeout="); ok {
			if d, err := time.ParseDuration(v); err != nil || d <= 3*time.Second {
				t.Errorf("HEALTHCHECK --timeout=%s: want more than maildesk healthcheck's 3s", v)
			}
		}
	}
	// The version is baked in: ARG VERSION with a default, given to -X main.version.
	for _, in := range df.all {
		if v, ok := strings.CutPrefix(in.args, "VERSION="); in.cmd == "ARG" && ok {
			f.version = v
		}
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words := shellWords(in.args)
		i := slices.Index(words, "build")
		if i < 1 || words[i-1] != "go" {
			t.Fatalf("Dockerfile:%d: cannot find go build in %q", in.line, in.args)
		}
		f.buildArgs = words[i+1:]
	}
	if f.version == "" {
		t.Error("no ARG VERSION with a default")
	}
	if f.buildArgs == nil {
		t.Fatal("no RUN go build")
	}
	if ld := strings.Join(f.buildArgs, " "); !strings.Contains(ld, "-X main.version=${VERSION}") {
		t.Errorf("go build %s: the version is not set (-X main.version=${VERSION})", ld)
	}
	return f
}

func TestDockerfile(t *testing.T) {
	clearMaildeskEnv(t)
	img := readImage(t)
	if !slices.Equal(img.entrypoint, []string{img.binary}) {
		t.Errorf("ENTRYPOINT %q, want [%q]", img.entrypoint, img.binary)
	}
	if len(img.cmd) == 0 || !knownCommand(t, img.cmd[0]) {
		t.Errorf("CMD %q does not start with a maildesk command", img.cmd)
	}
	if !slices.Equal(img.cmd, []string{"run", "--config", imageConfig}) {
		t.Errorf("CMD %q, want run --config %s (where Compose and Kubernetes mount it)", img.cmd, imageConfig)
	}
	if len(img.healthcheck) < 2 || img.healthcheck[0] != img.binary || img.healthcheck[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK CMD %q, want [%q, \"healthcheck\", ...]", img.healthcheck, img.binary)
	}
	// The health check as the image runs it, against the daemon's handler
	// where MAILDESK_HTTP_LISTEN says the daemon listens.
	srv := httptest.NewServer(httpapi.Handler(nil, nil))
	defer srv.Close()
	t.Setenv(listenEnv, strings.TrimPrefix(srv.URL, "http://"))
	if code, out, errOut := runMaildesk(t, img.healthcheck[1:]...); code != 0 {
		t.Errorf("HEALTHCHECK %q: exit %d, %s%s", img.healthcheck, code, out, errOut)
	}
}

// dockerignore is a .dockerignore's patterns as the Docker CLI applies them
// (github.com/moby/patternmatcher): relative to the context root, ** for
// any number of directories, a match on a directory excluding everything
// below it, "!" re-including.
type dockerignore []struct {
	re      *regexp.Regexp
	exclude bool
}

func readDockerignore(t *testing.T, path string) dockerignore {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var di dockerignore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		exclude := true
		if s, ok := strings.CutPrefix(p, "!"); ok {
			p, exclude = s, false
		}
		p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '*' && i+1 < len(p) && p[i+1] == '*':
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
				}
				if i+1 == len(p) {
					re.WriteString(".*")
				} else {
					re.WriteString("(.*/)?")
				}
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		di = append(di, struct {
			re      *regexp.Regexp
			exclude bool
		}{regexp.MustCompile(re.String()), exclude})
	}
	return di
}

// excluded reports whether the context-relative path rel (slashes) stays
// out of the build context.
func (di dockerignore) excluded(rel string) bool {
	out := false
	for _, p := range di {
		match := false
		for prefix := rel; ; {
			if p.re.MatchString(prefix) {
				match = true
				break
			}
			i := strings.LastIndexByte(prefix, '/')
			if i < 0 {
				break
			}
			prefix = prefix[:i]
		}
		if match {
			out = p.exclude
		}
	}
	return out
}

func TestDockerignore(t *testing.T) {
	di := readDockerignore(t, filepath.Join(repoRoot, ".dockerignore"))
	for _, p := range []string{".git/HEAD", "maildesk", "deploy/compose/secrets/api-token", "ingest/testdata/x.eml", "cmd/maildesk/deploy_test.go", "README.md"} {
		if !di.excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/maildesk/main.go", "notify/templates/ack.nl.txt.tmpl"} {
		if di.excluded(p) {
			t.Errorf(".dockerignore keeps %s, which the build needs, out of the build context", p)
		}
	}
}

// Exactly the files .dockerignore lets into the build context hold every
// source and embedded file of the Dockerfile's go build (go list fails on
// a missing package or an embed pattern without files).
func TestDockerBuildContext(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	img := readImage(t)
	pkg := img.buildArgs[len(img.buildArgs)-1]
	if !strings.HasPrefix(pkg, "./") {
		t.Fatalf("go build %q: want the package last", img.buildArgs)
	}
	di := readDockerignore(t, filepath.Join(repoRoot, ".dockerignore"))
	ctxDir := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		if di.excluded(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(ctxDir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "list", "-deps", pkg)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go list -deps %s in the build context: %v\n%s", pkg, err, out)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// --- Compose ---

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string                              `yaml:"command"`
	Volumes     []string                              `yaml:"volumes"`
	Secrets     []string                              `yaml:"secrets"`
	Ports       []string                              `yaml:"ports"`
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Restart     string                                `yaml:"restart"`
	ReadOnly    bool                                  `yaml:"read_only"`
	CapDrop     []string                              `yaml:"cap_drop"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// hostPath maps a path inside a service's container to the file on the
// host that one of its bind mounts puts there ("" if none does).
func (s composeService) hostPath(containerPath string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if rest, ok := strings.CutPrefix(containerPath, parts[1]+"/"); ok {
			return filepath.Join(deployDir, parts[0], rest)
		}
	}
	return ""
}

func TestCompose(t *testing.T) {
	clearMaildeskEnv(t)
	img := readImage(t)
	data, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}

	redis, ok := c.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis image %q, want redis:7", redis.Image)
	}
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync everysec") {
		t.Errorf("redis command %q: want AOF persistence (--appendonly yes --appendfsync everysec)", cmd)
	}
	if len(redis.Volumes) == 0 || !strings.HasSuffix(redis.Volumes[0], ":/data") {
		t.Errorf("redis volumes %q: want a named volume on /data", redis.Volumes)
	} else if name, _, _ := strings.Cut(redis.Volumes[0], ":"); c.Volumes == nil || !hasKey(c.Volumes, name) {
		t.Errorf("redis volume %q is not a named volume of the project", name)
	}
	if !slices.Contains(redis.Healthcheck.Test, "redis-cli") || !slices.Contains(redis.Healthcheck.Test, "ping") {
		t.Errorf("redis healthcheck %q: want redis-cli ping", redis.Healthcheck.Test)
	}

	md, ok := c.Services["maildesk"]
	if !ok {
		t.Fatal("no maildesk service")
	}
	if _, err := os.Stat(filepath.Join(deployDir, md.Build.Context, "Dockerfile")); err != nil || md.Build.Dockerfile != "" && md.Build.Dockerfile != "Dockerfile" {
		t.Errorf("maildesk build %+v: want the repository's Dockerfile (%v)", md.Build, err)
	}
	if md.DependsOn["redis"].Condition != "service_healthy" {
		t.Errorf("maildesk depends_on %+v: want redis service_healthy", md.DependsOn)
	}
	if md.Restart != "unless-stopped" || !md.ReadOnly || !slices.Contains(md.CapDrop, "ALL") {
		t.Errorf("maildesk: restart %q, read_only %v, cap_drop %q; want unless-stopped, true, ALL", md.Restart, md.ReadOnly, md.CapDrop)
	}
	if len(md.Command) < 3 || !knownCommand(t, md.Command[0]) || md.Command[1] != "--config" {
		t.Fatalf("maildesk command %q: want run --config FILE", md.Command)
	}
	cfgPath := md.Command[2]
	hostCfg := md.hostPath(cfgPath)
	if hostCfg == "" {
		t.Fatalf("%s is not mounted into the maildesk service", cfgPath)
	}
	hc := md.Healthcheck.Test
	if len(hc) < 3 || hc[0] != "CMD" || hc[1] != img.binary || hc[2] != "healthcheck" {
		t.Errorf("maildesk healthcheck %q, want [CMD %s healthcheck ...]", hc, img.binary)
	}
	if i := slices.Index(hc, "--config"); i >= 0 && (i+1 >= len(hc) || md.hostPath(hc[i+1]) == "") {
		t.Errorf("maildesk healthcheck %q names a config that is not mounted", hc)
	}

	// Secrets: declared, with an example to copy, and the config reads them
	// where Compose mounts them.
	secrets := map[string]string{}
	examples := map[string]string{}
	for _, name := range md.Secrets {
		s, ok := c.Secrets[name]
		if !ok || s.File == "" {
			t.Errorf("secret %s is not declared with a file", name)
			continue
		}
		ex, err := os.ReadFile(filepath.Join(deployDir, s.File+".example"))
		if err != nil {
			t.Errorf("secret %s: no example to copy: %v", name, err)
		}
		secrets[name], examples[name] = stubSecret(name), string(ex)
	}
	cfgText, err := os.ReadFile(hostCfg)
	if err != nil {
		t.Fatal(err)
	}
	contacts, err := os.ReadFile(filepath.Join(filepath.Dir(hostCfg), "contacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadDeployedConfig(t, string(cfgText), string(contacts), "/run/secrets", secrets)
	if err != nil {
		t.Fatalf("%s: %v", hostCfg, err)
	}
	if !strings.HasPrefix(cfg.Redis.URL, "redis://redis:") {
		t.Errorf("redis.url %q: want the redis service", cfg.Redis.URL)
	}
	port := listenPort(t, cfg.HTTP.Listen)
	if !slices.ContainsFunc(md.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+strconv.Itoa(port)) }) {
		t.Errorf("ports %q do not publish http.listen %s", md.Ports, cfg.HTTP.Listen)
	}
	if config.LoopbackListen(cfg.HTTP.Listen) {
		t.Errorf("http.listen %s is loopback: the published port cannot reach it", cfg.HTTP.Listen)
	}
	// The health check finds the daemon where it listens: it asks that
	// port, whether anything answers there or not.
	_, out, errOut := runMaildesk(t, "healthcheck", "--config", hostCfg, "--timeout", "1s")
	if !strings.Contains(out+errOut, ":"+strconv.Itoa(port)+"/healthz") {
		t.Errorf("healthcheck --config %s does not ask port %d: %s%s", hostCfg, port, out, errOut)
	}
	// The examples are placeholders that cannot go live by mistake: the
	// token example fails validation.
	if _, err := loadDeployedConfig(t, string(cfgText), string(contacts), "/run/secrets", examples); err == nil || !strings.Contains(err.Error(), "token_file") {
		t.Errorf("the config with the *.example secrets: %v; want a token_file problem", err)
	}
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// --- Kubernetes ---

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Resources  []string          `yaml:"resources"` // kustomization
	Spec       yaml.Node         `yaml:"spec"`
	file       string
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sSecurityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext k8sSecurityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type k8sDeploymentSpec struct {
	Replicas int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			SecurityContext k8sSecurityContext `yaml:"securityContext"`
			Containers      []k8sContainer     `yaml:"containers"`
			Volumes         []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				Secret *struct {
					SecretName string `yaml:"secretName"`
				} `yaml:"secret"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

type k8sServiceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Port       int `yaml:"port"`
		TargetPort any `yaml:"targetPort"`
	} `yaml:"ports"`
}

type k8sPDBSpec struct {
	MinAvailable any `yaml:"minAvailable"`
	Selector     struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
}

func readKubernetes(t *testing.T) (objs []k8sObject, kustomization *k8sObject) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/kubernetes/*.yaml: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				continue // an empty document
			}
			o.file = filepath.Base(f)
			if o.Kind == "Kustomization" {
				kustomization = &o
				continue
			}
			objs = append(objs, o)
		}
	}
	if kustomization == nil {
		t.Fatal("no kustomization.yaml")
	}
	return objs, kustomization
}

func boolp(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}

func decodeSpec(t *testing.T, o k8sObject, v any) {
	t.Helper()
	if err := o.Spec.Decode(v); err != nil {
		t.Fatalf("%s %s: %v", o.file, o.Kind, err)
	}
}

func subset(sub, of map[string]string) bool {
	if len(sub) == 0 {
		return false
	}
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	clearMaildeskEnv(t)
	img := readImage(t)
	objs, kust := readKubernetes(t)
	byKind := map[string][]k8sObject{}
	var files []string
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
		if !slices.Contains(files, o.file) {
			files = append(files, o.file)
		}
	}
	slices.Sort(files)
	res := slices.Clone(kust.Resources)
	slices.Sort(res)
	if !slices.Equal(files, res) {
		t.Errorf("kustomization.yaml resources %q, the directory has %q", res, files)
	}
	one := func(kind string) k8sObject {
		if len(byKind[kind]) != 1 {
			t.Fatalf("want one %s, got %d", kind, len(byKind[kind]))
		}
		return byKind[kind][0]
	}
	cm, secret := one("ConfigMap"), one("Secret")

	var dep k8sDeploymentSpec
	decodeSpec(t, one("Deployment"), &dep)
	podLabels := dep.Template.Metadata.Labels
	if dep.Replicas != 2 {
		t.Errorf("replicas %d, want 2", dep.Replicas)
	}
	if !subset(dep.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", dep.Selector.MatchLabels, podLabels)
	}
	pod := dep.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Command) != 0 {
		t.Errorf("command %q replaces the image's entrypoint; use args", c.Command)
	}
	if len(c.Args) < 3 || !knownCommand(t, c.Args[0]) || c.Args[1] != "--config" {
		t.Fatalf("args %q: want run --config FILE", c.Args)
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	portOf := func(p any) int {
		switch p := p.(type) {
		case int:
			return p
		case string:
			if n, ok := ports[p]; ok {
				return n
			}
			t.Errorf("port %q is not a named container port", p)
		}
		return 0
	}

	// Probes: paths the daemon serves, on its port.
	for name, tc := range map[string]struct {
		p    *k8sProbe
		path string
	}{"livenessProbe": {c.LivenessProbe, "/healthz"}, "readinessProbe": {c.ReadinessProbe, "/readyz"}} {
		if tc.p == nil || tc.p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", name)
			continue
		}
		if tc.p.HTTPGet.Path != tc.path || !probeServed(tc.p.HTTPGet.Path) {
			t.Errorf("%s asks %s, want %s (served: %v)", name, tc.p.HTTPGet.Path, tc.path, probeServed(tc.p.HTTPGet.Path))
		}
		if p := portOf(tc.p.HTTPGet.Port); p == 0 || p != ports["http"] {
			t.Errorf("%s asks port %v, want the http port %d", name, tc.p.HTTPGet.Port, ports["http"])
		}
	}
	if c.StartupProbe != nil && (c.StartupProbe.HTTPGet == nil || !probeServed(c.StartupProbe.HTTPGet.Path)) {
		t.Errorf("startupProbe asks a path the daemon does not serve")
	}

	// Security: non-root (the image's user), nothing writable, no privileges.
	psc, csc := pod.SecurityContext, c.SecurityContext
	uid, _, _ := strings.Cut(img.user, ":")
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || strconv.FormatInt(*psc.RunAsUser, 10) != uid {
		t.Errorf("pod securityContext: want runAsNonRoot and runAsUser %s (the image's user)", uid)
	}
	if psc.SeccompProfile.Type != "RuntimeDefault" && csc.SeccompProfile.Type != "RuntimeDefault" {
		t.Error("want seccompProfile RuntimeDefault")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		!slices.Equal(csc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("container securityContext: readOnlyRootFilesystem %s, allowPrivilegeEscalation %s, drop %q; want true, false, ALL",
			boolp(csc.ReadOnlyRootFilesystem), boolp(csc.AllowPrivilegeEscalation), csc.Capabilities.Drop)
	}
	if c.Resources.Limits["memory"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Requests["cpu"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}

	// Volumes: the ConfigMap and the Secret of this directory, mounted where
	// the args and the config look.
	mounts := map[string]string{} // volume name -> mount path
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted writable", m.Name)
		}
		mounts[m.Name] = m.MountPath
	}
	var cfgDir, secretDir string
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name:
			cfgDir = mounts[v.Name]
		case v.Secret != nil && v.Secret.SecretName == secret.Metadata.Name:
			secretDir = mounts[v.Name]
		default:
			t.Errorf("volume %s is neither the ConfigMap %s nor the Secret %s", v.Name, cm.Metadata.Name, secret.Metadata.Name)
		}
	}
	if cfgDir == "" || secretDir == "" {
		t.Fatalf("ConfigMap mounted at %q, Secret at %q", cfgDir, secretDir)
	}
	if c.Args[2] != filepath.Join(cfgDir, "maildesk.yaml") || c.Args[2] != imageConfig {
		t.Errorf("--config %s, the ConfigMap is mounted at %s (the image's default is %s)", c.Args[2], cfgDir, imageConfig)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != secret.Metadata.Name {
			t.Errorf("env %s refers to Secret %s", e.Name, e.ValueFrom.SecretKeyRef.Name)
		}
	}

	// The ConfigMap's config is valid with the Secret's keys as files.
	stubs := map[string]string{}
	for k := range secret.StringData {
		stubs[k] = stubSecret(k)
	}
	cfg, err := loadDeployedConfig(t, cm.Data["maildesk.yaml"], cm.Data["contacts.yaml"], secretDir, stubs)
	if err != nil {
		t.Fatalf("configmap.yaml maildesk.yaml: %v", err)
	}
	port := listenPort(t, cfg.HTTP.Listen)
	if ports["http"] != port || config.LoopbackListen(cfg.HTTP.Listen) {
		t.Errorf("http.listen %s, container port http %d", cfg.HTTP.Listen, ports["http"])
	}
	// The template's placeholders stop the pods rather than go live.
	if _, err := loadDeployedConfig(t, cm.Data["maildesk.yaml"], cm.Data["contacts.yaml"], secretDir, secret.StringData); err == nil || !strings.Contains(err.Error(), "token_file") {
		t.Errorf("the config with secret.yaml's placeholders: %v; want a token_file problem", err)
	}

	var svc k8sServiceSpec
	decodeSpec(t, one("Service"), &svc)
	if svc.Type != "ClusterIP" || !subset(svc.Selector, podLabels) || len(svc.Ports) != 1 || svc.Ports[0].Port != port || portOf(svc.Ports[0].TargetPort) != port {
		t.Errorf("Service %+v: want ClusterIP port %d to the pods' http port", svc, port)
	}
	var pdb k8sPDBSpec
	decodeSpec(t, one("PodDisruptionBudget"), &pdb)
	if pdb.MinAvailable != 1 || !subset(pdb.Selector.MatchLabels, podLabels) {
		t.Errorf("PodDisruptionBudget %+v: want minAvailable 1 for the pods", pdb)
	}
}

// --- systemd ---

func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(deployDir, "systemd", "maildesk.service")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{} // "Section.Key" -> values
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, i+1, line)
			}
			key := section + "." + strings.TrimSpace(k)
			unit[key] = append(unit[key], strings.TrimSpace(v))
		}
	}
	last := func(key string) (string, bool) {
		vs, ok := unit[key]
		if !ok {
			return "", false
		}
		return vs[len(vs)-1], true
	}

	execStart := strings.Fields(strings.Join(unit["Service.ExecStart"], " "))
	if e := execStart; len(e) < 4 || !filepath.IsAbs(e[0]) || !knownCommand(t, e[1]) || e[1] != "run" || e[2] != "--config" || !filepath.IsAbs(e[3]) {
		t.Errorf("ExecStart %q: want /path/maildesk run --config /abs/maildesk.yaml", e)
	}
	if v, _ := last("Service.ExecReload"); !strings.Contains(v, "-HUP $MAINPID") {
		t.Errorf("ExecReload %q: want kill -HUP $MAINPID (SIGHUP re-reads the contacts)", v)
	}
	for key, want := range map[string]string{
		"Service.Restart":                 "on-failure",
		"Service.NoNewPrivileges":         "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.LockPersonality":         "yes",
		"Service.RestrictNamespaces":      "yes",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.ProtectKernelTunables":   "yes",
		"Service.ProtectKernelModules":    "yes",
		"Service.ProtectControlGroups":    "yes",
		"Service.SystemCallArchitectures": "native",
		"Install.WantedBy":                "multi-user.target",
	} {
		if got, ok := last(key); !ok || got != want {
			t.Errorf("%s=%q (set: %v), want %q", key, got, ok, want)
		}
	}
	if !slices.Contains(unit["Service.SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter %q: want @system-service", unit["Service.SystemCallFilter"])
	}
	if v, _ := last("Service.DynamicUser"); v != "yes" && unit["Service.User"] == nil {
		t.Error("want DynamicUser=yes or a User=")
	}
	if _, ok := last("Service.TimeoutStopSec"); !ok {
		t.Error("no TimeoutStopSec")
	}
	// Secrets come in as credentials; the comment shows the config paths.
	creds := unit["Service.LoadCredential"]
	if len(creds) == 0 {
		t.Error("no LoadCredential")
	}
	for _, c := range creds {
		name, src, ok := strings.Cut(c, ":")
		if !ok || !filepath.IsAbs(src) {
			t.Errorf("LoadCredential=%s: want NAME:/absolute/source", c)
			continue
		}
		if !strings.Contains(string(data), "/run/credentials/maildesk.service/"+name) {
			t.Errorf("the unit's comment does not show the config path of credential %s", name)
		}
	}
}
