package signin

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Grant is what a delegated sign-in keeps: the refresh token and the access
// token last made from it, so that replicas share both. It is stored
// encrypted; nothing in it may be logged.
type Grant struct {
	RefreshToken string    `json:"refresh_token"`
	AccessToken  string    `json:"access_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	// Issued is when AccessToken was obtained, to judge how much of its
	// lifetime is left.
	Issued time.Time `json:"issued,omitzero"`
	// RefreshIssued is when RefreshToken was obtained (a sign-in or a
	// rotation): auth status shows its age.
	RefreshIssued time.Time `json:"refresh_issued"`
	// Origin says how the grant came to be: "device_code", "refresh_token_file".
	Origin string `json:"origin"`
}

// ErrNoGrant: nothing is stored; someone has to sign in.
var ErrNoGrant = errors.New("no OAuth2 grant is stored")

// grantStore keeps a desk's Grant in Redis under AES-256-GCM. The key's
// name is the additional data, so a blob copied to another desk's key does
// not decrypt.
type grantStore struct {
	rdb  redis.UniversalClient
	key  string
	aead cipher.AEAD
}

func newGrantStore(rdb redis.UniversalClient, key string, secret []byte) (*grantStore, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("oauth2.token_key_file: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("oauth2.token_key_file: %w", err)
	}
	return &grantStore{rdb: rdb, key: key, aead: aead}, nil
}

func (s *grantStore) load(ctx context.Context) (*Grant, error) {
	blob, err := s.rdb.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoGrant
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stored OAuth2 grant: %w", err)
	}
	n := s.aead.NonceSize()
	if len(blob) < n {
		return nil, fmt.Errorf("the stored OAuth2 grant %s is damaged (%d bytes)", s.key, len(blob))
	}
	plain, err := s.aead.Open(nil, blob[:n], blob[n:], []byte(s.key))
	if err != nil {
		return nil, fmt.Errorf("the stored OAuth2 grant %s does not decrypt with oauth2.token_key_file (another key?): sign in again with maildesk auth login", s.key)
	}
	var g Grant
	if err := json.Unmarshal(plain, &g); err != nil {
		return nil, fmt.Errorf("the stored OAuth2 grant %s is damaged: %w", s.key, err)
	}
	return &g, nil
}

func (s *grantStore) save(ctx context.Context, g *Grant) error {
	plain, err := json.Marshal(g)
	if err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	blob := s.aead.Seal(nonce, nonce, plain, []byte(s.key))
	if err := s.rdb.Set(ctx, s.key, blob, 0).Err(); err != nil {
		return fmt.Errorf("storing the OAuth2 grant: %w", err)
	}
	return nil
}
