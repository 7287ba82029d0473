package address

import "testing"

func TestKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"jan@acme.example", "jan@acme.example"},
		{" Jan@ACME.example ", "jan@acme.example"},
		{"Jan Jansen <Jan@Bücher.example>", "jan@xn--bcher-kva.example"},
		{"jan@bücher.example.", "jan@xn--bcher-kva.example"},
		{"JAN@XN--BCHER-KVA.EXAMPLE", "jan@xn--bcher-kva.example"},
		{"jan@日本語。jp", "jan@xn--wgv71a119e.jp"},
		{"Not An Address", "not an address"},
		{"jan@acme..example", "jan@acme..example"},
	} {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Key(Key(tt.in)); got != Key(tt.in) {
			t.Errorf("Key(Key(%q)) = %q, want %q", tt.in, got, Key(tt.in))
		}
	}
}
