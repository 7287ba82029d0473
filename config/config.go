package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	// Desk.Timezone must load on minimal container images without
	// /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
)

const (
	maxConfigSize = 4 << 20
	// A secret is a password, not a document; the limit also stops a
	// password_file such as /dev/zero from eating memory.
	maxSecretSize = 64 << 10
)

// Load reads the YAML config at path, applies defaults and environment
// overrides (MAILDESK_<SECTION>_<KEY>), reads password_file secrets
// (relative to the config file's directory; so is contacts_file, which is
// resolved but not read), validates the configuration and returns it. When
// the configuration itself is wrong the error is a Problems value listing
// all problems found, returned with the config as far as it could be read
// (nil when the file is not YAML), so that the checks of the
// parts other packages own can still run and report theirs: configload.Load
// is all of them, what a desk needs. Failing to read the config file is a
// wrapped I/O error.
func Load(path string) (*Config, error) {
	return LoadSecrets(path, AllSecrets)
}

// Secrets says which sections' secret files a command reads: a command
// reads the secrets it uses and no others, so that `maildesk sla due` works
// on a machine without the mailbox password. The keys stay validated; a
// secret not read is left empty.
type Secrets uint8

// The secrets by section.
const (
	SecretsIMAP   Secrets = 1 << iota // imap.password_file
	SecretsSMTP                       // smtp.password_file
	SecretsRedis                      // redis.password_file, redis.sentinel.password_file
	SecretsOAuth2                     // oauth2.*_file
	SecretsHTTP                       // http.tokens[].token_file
	AllSecrets    = SecretsIMAP | SecretsSMTP | SecretsRedis | SecretsOAuth2 | SecretsHTTP
)

// LoadSecrets is Load reading only the secrets in need.
func LoadSecrets(path string, need Secrets) (*Config, error) {
	data, err := ReadLimited(path, maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving config file path %s: %w", path, err)
	}
	cfg, err := parse(path, data, filepath.Dir(abs), os.LookupEnv, ReadLimited, need)
	if cfg != nil {
		cfg.Path = abs
	}
	return cfg, err
}

// Parse is Load for a config that is already in memory: for tests and for the
// embedded demo config. It still reads the password_file secrets the config
// names; relative ones (and contacts_file) resolve against dir. env looks up
// environment variables (nil means os.LookupEnv), so that tests need not touch
// the process environment. Problems from the config itself carry no file name.
func Parse(data []byte, dir string, env func(string) (string, bool)) (*Config, error) {
	return parse("", data, dir, env, ReadLimited, AllSecrets)
}

type readFunc func(name string, limit int64) ([]byte, error)

// loader holds the state of one Parse.
type loader struct {
	cfg    *Config
	c      *Reporter
	leaves map[string]reflect.Value
	dir    string
	read   readFunc
	need   Secrets
}

func parse(name string, data []byte, dir string, env func(string) (string, bool), read readFunc, need Secrets) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	var ps Problems
	cfg := &Config{}
	c, ok := DecodeFile(&ps, name, data, cfg)
	if !ok {
		return nil, ps
	}
	l := &loader{cfg: cfg, c: c, leaves: map[string]reflect.Value{}, dir: dir, read: read, need: need}
	forEachLeaf(reflect.ValueOf(cfg).Elem(), "", func(path string, v reflect.Value) { l.leaves[path] = v })
	l.applyEnv(env)
	l.applyDefaults()
	l.validate()
	cfg.where = c
	if len(ps) > 0 {
		ps.Sort()
		return cfg, ps
	}
	return cfg, nil
}

// Reporter reports problems of the config file into out, at the lines of
// their fields (or naming the environment variable that set one), for the
// checks of parts of the configuration that other packages own. A Config
// not read from a file reports without file and line.
func (c *Config) Reporter(out *Problems) *Reporter {
	if c.where == nil {
		return NewReporter(out, "")
	}
	return c.where.on(out)
}

// DecodeFile decodes data strictly into v (a pointer to the file's schema)
// and indexes where each field is, appending the problems of name to out.
// It reports whether v is worth validating; the Reporter then reports
// further problems of name at their fields' lines.
func DecodeFile(out *Problems, name string, data []byte, v any) (*Reporter, bool) {
	root := reflect.TypeOf(v).Elem()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		c := newReporter(out, name, newIndex(nil), root)
		c.decodeError(err)
		return c, false
	}
	c := newReporter(out, name, newIndex(&doc), root)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return c, true // an empty file: every required field will be reported
	}
	if err != nil && !c.decodeError(err) {
		return c, false
	}
	// A second document would be silently ignored, and with it whatever the
	// operator meant by it.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		c.decodeError(err)
	default:
		*out = append(*out, Problem{File: name, Line: extra.Line, Reason: "only one YAML document is allowed"})
	}
	return c, true
}

// forEachLeaf calls fn for every scalar field reachable through yaml-tagged
// struct fields, with its dotted yaml path.
func forEachLeaf(v reflect.Value, prefix string, fn func(path string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		name := tagName(t.Field(i))
		if name == "" {
			continue
		}
		f, path := v.Field(i), join(prefix, name)
		switch {
		case f.Kind() == reflect.Struct:
			forEachLeaf(f, path, fn)
		case isScalar(f.Type()):
			fn(path, f)
		}
	}
}

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		return true
	}
	return false
}

// setText stores s in a leaf field, the way YAML would have.
func setText(f reflect.Value, s string) error {
	if t, ok := f.Addr().Interface().(interface{ setText(string) error }); ok {
		return t.setText(s)
	}
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be a duration like 30s, 5m or 24h (got %q)", s)
		}
		f.SetInt(int64(d))
	case f.Type() == byteSizeType:
		b, err := ParseByteSize(s)
		if err != nil {
			return fmt.Errorf("must be a size like 25MB, 512KiB or a number of bytes (got %q)", s)
		}
		f.SetInt(int64(b))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || f.OverflowInt(n) {
			return fmt.Errorf("must be a whole number (got %q)", s)
		}
		f.SetInt(n)
	default:
		return fmt.Errorf("cannot be set from text")
	}
	return nil
}

// envName is the environment variable that overrides the config key at path:
// "imap.poll_interval" -> "MAILDESK_IMAP_POLL_INTERVAL".
func envName(path string) string {
	return "MAILDESK_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

func (l *loader) applyEnv(env func(string) (string, bool)) {
	paths := make([]string, 0, len(l.leaves))
	for p := range l.leaves {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		name := envName(path)
		s, ok := env(name)
		if !ok {
			continue
		}
		if err := setText(l.leaves[path], s); err != nil {
			*l.c.out = append(*l.c.out, Problem{Path: "env " + name, Reason: err.Error()})
			continue
		}
		l.c.env[path] = name
	}
	// A secret given in the environment replaces the file's way of giving it
	// rather than clashing with it: a deployment commonly keeps
	// password_file in the shared config and injects the password per host.
	for _, sec := range []string{"imap", "smtp", "redis", "redis.sentinel"} {
		pw, file := sec+".password", sec+".password_file"
		_, envPW := l.c.env[pw]
		_, envFile := l.c.env[file]
		switch {
		case envPW && !envFile:
			l.leaves[file].SetString("")
		case envFile && !envPW:
			l.leaves[pw].SetString("")
		}
	}
}

// defaults are the scalar defaults, by key path, read from the `default`
// tags of the schema's fields: each default is written next to its field,
// once, with the reason for its value.
var defaults = defaultsOf(reflect.TypeFor[Config](), "")

// defaultsOf lists the `default` tags of the yaml-tagged fields of t and the
// structs within it, in field order.
func defaultsOf(t reflect.Type, prefix string) []struct{ path, value string } {
	var out []struct{ path, value string }
	for i := range t.NumField() {
		f := t.Field(i)
		name := tagName(f)
		if name == "" {
			continue
		}
		path := join(prefix, name)
		if v, ok := f.Tag.Lookup("default"); ok {
			out = append(out, struct{ path, value string }{path, v})
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, defaultsOf(f.Type, path)...)
		}
	}
	return out
}

// applyDefaults fills in what the file and environment left out. It goes by
// presence, not by zero value, so that an explicit `listen: ""` (HTTP off) or
// `batch_size: 0` (a mistake worth reporting) is not overwritten.
func (l *loader) applyDefaults() {
	for _, d := range defaults {
		if !l.c.Set(d.path) {
			if err := setText(l.leaves[d.path], d.value); err != nil {
				panic("config: bad default for " + d.path + ": " + err.Error())
			}
		}
	}
	// Maps and lists have no environment override, so the file is all that
	// decides. An empty plans section counts as none: a desk without plans
	// could have no customers. Giving priority words replaces the defaults
	// as a whole: merging would leave no way to drop a default word.
	if len(l.cfg.Plans) == 0 {
		l.cfg.Plans = map[string]Plan{DefaultPlan: {}}
	}
	if !l.c.Set("priority.words") {
		l.cfg.Priority.Words = map[string][]string{}
		for p, words := range defaultPriorityWords {
			l.cfg.Priority.Words[p] = append([]string(nil), words...)
		}
	}
	if !l.c.Set("outbox.recipient_limits") {
		l.cfg.Outbox.RecipientLimits = append([]RateLimit(nil), defaultRecipientLimits...)
	}
	if !l.c.Set("outbox.desk_limits") {
		l.cfg.Outbox.DeskLimits = append([]RateLimit(nil), defaultDeskLimits...)
	}
	if !l.c.Set("priority.feature_words") {
		l.cfg.Priority.FeatureWords = append([]string(nil), defaultFeatureWords...)
	}
	if !l.c.Set("smtp.helo") {
		if a, err := mail.ParseAddress(l.cfg.Desk.Address); err == nil {
			if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
				l.cfg.SMTP.HELO = strings.ToLower(a.Address[i+1:])
			}
		}
	}
}

func (l *loader) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) || l.dir == "" {
		return p
	}
	return filepath.Join(l.dir, p)
}

// ReadFile is the config file at path as Load reads it, at most 4 MiB: for
// a command that needs a key or two without loading the whole configuration
// and its secrets (the health check).
func ReadFile(path string) ([]byte, error) { return ReadLimited(path, maxConfigSize) }

// ReadLimited reads the file name, refusing one larger than limit bytes.
func ReadLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// Sort orders problems by file, in the order the files were first
// mentioned, then by line, so that they read top to bottom.
func (ps Problems) Sort() {
	rank := map[string]int{}
	for _, p := range ps {
		if _, ok := rank[p.File]; !ok {
			rank[p.File] = len(rank)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ri, rj := rank[ps[i].File], rank[ps[j].File]; ri != rj {
			return ri < rj
		}
		return ps[i].Line < ps[j].Line
	})
}

// Redacted returns a copy of c that is safe to log: passwords, including one
// in the Redis URL, are replaced by "***".
func (c *Config) Redacted() Config {
	r := *c
	if r.IMAP.Password != "" {
		r.IMAP.Password = "***"
	}
	if r.SMTP.Password != "" {
		r.SMTP.Password = "***"
	}
	if r.Redis.Password != "" {
		r.Redis.Password = "***"
	}
	for _, s := range []*string{&r.OAuth2.ClientSecret, &r.OAuth2.RefreshToken} {
		if *s != "" {
			*s = "***"
		}
	}
	r.OAuth2.TokenKey, r.OAuth2.ServiceAccount, r.OAuth2.PrivateKey = nil, nil, nil
	r.OAuth2.Scopes = append([]string(nil), c.OAuth2.Scopes...)
	r.Alerts.To = append([]string(nil), c.Alerts.To...)
	if r.Redis.Sentinel.Password != "" {
		r.Redis.Sentinel.Password = "***"
	}
	// The lists are copied so that a caller editing the copy cannot reach
	// back into the live config.
	r.Redis.Cluster = append([]string(nil), c.Redis.Cluster...)
	r.Redis.Sentinel.Addresses = append([]string(nil), c.Redis.Sentinel.Addresses...)
	if c.HTTP.Tokens != nil {
		r.HTTP.Tokens = make([]HTTPToken, len(c.HTTP.Tokens))
		for i, t := range c.HTTP.Tokens {
			if t.Token != "" {
				t.Token = "***"
			}
			r.HTTP.Tokens[i] = t
		}
	}
	if u, err := url.Parse(r.Redis.URL); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			// url.URL would escape "***"; put it in after encoding.
			u.User = url.UserPassword(u.User.Username(), "x")
			r.Redis.URL = strings.Replace(u.String(), ":x@", ":***@", 1)
		}
	} else if err != nil {
		r.Redis.URL = "***"
	}
	// Customers are copied so that a caller editing the copy cannot reach
	// back into the live config.
	r.Customers = make([]Customer, len(c.Customers))
	for i, cu := range c.Customers {
		cu.Contacts = append([]Contact(nil), cu.Contacts...)
		r.Customers[i] = cu
	}
	if c.Customers == nil {
		r.Customers = nil
	}
	return r
}
