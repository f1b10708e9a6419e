package jsonscan

import (
	"strings"
	"testing"
)

func TestWhole(t *testing.T) {
	for in, want := range map[string]Kind{
		`{"a":[1,-2.5e+3,true,false,null,"x"]}`: Object, ` [ ] `: Array, `"\u00e9"`: String, `0`: Number, `null`: Null,
	} {
		if k, err := Whole([]byte(in)); err != nil || k != want {
			t.Errorf("Whole(%s) = %v, %v; want %v", in, k, err, want)
		}
	}
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `-`, `1e`, `tru`, `"a`, "\"\x01\"",
		`"\x"`, `"\u12G4"`, "\"\xff\"", `{} {}`, `{'a':1}`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)} {
		if _, err := Whole([]byte(in)); err == nil || !IsSyntax(err) {
			t.Errorf("Whole(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                "plain",
		`"a\"b\\c\/d\b\f\n\r\t"`: "a\"b\\c/d\b\f\n\r\t",
		`"\u00e9\u20ac"`:         "é€",
		`"\ud83d\ude00"`:         "😀",
		`"\ud83d"`:               "\uFFFD",
		`"\ud83dx"`:              "\uFFFDx",
	} {
		got, err := Unquote([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestWalkers(t *testing.T) {
	var keys []string
	err := EachMember([]byte(`{"a":1, "b\n":{"c":[2]}}`), func(key []byte, k Kind, raw []byte) error {
		name, _ := Unquote(key)
		keys = append(keys, string(name)+"="+k.String()+":"+string(raw))
		return nil
	})
	if err != nil || strings.Join(keys, ",") != "a=number:1,b\n=object:{\"c\":[2]}" {
		t.Errorf("EachMember: %q %v", keys, err)
	}
	n := 0
	err = EachElement([]byte(`[1,"x",{}] trailing`), func(i int, k Kind, raw []byte) error { n++; return nil })
	if err == nil || n != 3 {
		t.Errorf("EachElement with trailing data: %d elements, %v", n, err)
	}
	if !IsInteger([]byte("-12")) || IsInteger([]byte("1.0")) || IsInteger([]byte("1e2")) {
		t.Error("IsInteger")
	}
}
