package mailparse

// Opaque S/MIME signed mail (RFC 8551 3.5.2): the whole signed entity is
// inside a CMS SignedData (RFC 5652) in an application/pkcs7-mime part
// (smime.p7m), where the ticket would show only an attachment. Its content
// is taken out unchecked (the desk trusts the mail's authentication
// results, not signatures) and read like any other part. Mail clients
// write the structure in BER, with indefinite lengths and chunked octet
// strings, which encoding/asn1 does not read: this is a minimal BER reader
// for that one path. It is linear: every element is read once per level,
// and the levels are bounded.

import "bytes"

// maxSignedData bounds what is kept of an opaque signed part to take its
// content out; a larger one stays an attachment.
const maxSignedData = 8 << 20

// berMaxDepth bounds the nesting a BER reader follows.
const berMaxDepth = 16

var (
	oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02} // 1.2.840.113549.1.7.2
	oidData       = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
)

// berElem is one BER element: its identifier and its contents (for an
// indefinite length, the contents before the end-of-contents octets).
type berElem struct {
	class       byte // 0 universal, 2 context-specific
	constructed bool
	tag         int
	body        []byte
}

// readBER reads the element at the start of b; rest is what follows it.
func readBER(b []byte, depth int) (e berElem, rest []byte, ok bool) {
	if depth > berMaxDepth || len(b) < 2 {
		return e, nil, false
	}
	e.class, e.constructed, e.tag = b[0]>>6, b[0]&0x20 != 0, int(b[0]&0x1f)
	i := 1
	if e.tag == 0x1f { // high tag number form
		e.tag = 0
		for ; i < len(b) && i < 5; i++ {
			e.tag = e.tag<<7 | int(b[i]&0x7f)
			if b[i]&0x80 == 0 {
				break
			}
		}
		i++
	}
	if i >= len(b) {
		return e, nil, false
	}
	l := int(b[i])
	i++
	switch {
	case l < 0x80:
	case l == 0x80:
		// Indefinite: the children up to the end-of-contents octets.
		if !e.constructed {
			return e, nil, false
		}
		start := i
		for {
			if i+1 < len(b) && b[i] == 0 && b[i+1] == 0 {
				e.body = b[start:i]
				return e, b[i+2:], true
			}
			_, r, ok := readBER(b[i:], depth+1)
			if !ok {
				return e, nil, false
			}
			i = len(b) - len(r)
		}
	default:
		n := l & 0x7f
		if n > 4 || i+n > len(b) {
			return e, nil, false
		}
		l = 0
		for _, x := range b[i : i+n] {
			l = l<<8 | int(x)
		}
		i += n
	}
	if l < 0 || l > len(b)-i {
		return e, nil, false
	}
	e.body = b[i : i+l]
	return e, b[i+l:], true
}

// children reads the elements of a constructed element's contents.
func (e berElem) children(depth int, max int) ([]berElem, bool) {
	var out []berElem
	for b := e.body; len(b) > 0 && len(out) < max; {
		c, rest, ok := readBER(b, depth+1)
		if !ok {
			return nil, false
		}
		out = append(out, c)
		b = rest
	}
	return out, true
}

// octets is the value of an OCTET STRING, primitive or chunked.
func (e berElem) octets(depth int, out *bytes.Buffer) bool {
	if e.class != 0 || e.tag != 4 {
		return false
	}
	if !e.constructed {
		out.Write(e.body)
		return true
	}
	for b := e.body; len(b) > 0; {
		c, rest, ok := readBER(b, depth+1)
		if !ok || !c.octets(depth+1, out) {
			return false
		}
		b = rest
	}
	return true
}

// signedContent returns the content a CMS SignedData wraps:
//
//	ContentInfo ::= SEQUENCE { contentType OID (signedData), [0] EXPLICIT SignedData }
//	SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, ... }
//	EncapsulatedContentInfo ::= SEQUENCE { eContentType OID (data), [0] EXPLICIT OCTET STRING }
//
// ok is false for anything else (an encrypted EnvelopedData, a detached
// signature without content, garbage).
func signedContent(der []byte) ([]byte, bool) {
	ci, _, ok := readBER(der, 0)
	if !ok || ci.tag != 16 || !ci.constructed {
		return nil, false
	}
	parts, ok := ci.children(0, 2)
	if !ok || len(parts) != 2 || parts[0].tag != 6 || !bytes.Equal(parts[0].body, oidSignedData) || parts[1].class != 2 || parts[1].tag != 0 {
		return nil, false
	}
	sd, ok := parts[1].children(1, 1)
	if !ok || len(sd) != 1 || sd[0].tag != 16 {
		return nil, false
	}
	fields, ok := sd[0].children(2, 3)
	if !ok || len(fields) < 3 || fields[2].tag != 16 {
		return nil, false
	}
	encap, ok := fields[2].children(3, 2)
	if !ok || len(encap) != 2 || encap[0].tag != 6 || !bytes.Equal(encap[0].body, oidData) || encap[1].class != 2 || encap[1].tag != 0 {
		return nil, false
	}
	inner, ok := encap[1].children(4, 1)
	if !ok || len(inner) != 1 {
		return nil, false
	}
	var out bytes.Buffer
	if !inner[0].octets(5, &out) || out.Len() == 0 {
		return nil, false
	}
	return out.Bytes(), true
}
