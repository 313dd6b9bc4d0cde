// Binsize breaks a Go binary's size down per package and per module: the
// bytes of each symbol in the ELF symbol table (code, read-only data, data),
// summed by the package its name starts with. It answers "what weighs" from
// the binary itself, as `go tool nm -size` would, without a script around it:
//
//	go build -o /tmp/keystile ./cmd/keystile   # a build with its symbol table (not -s)
//	go run ./tools/binsize -top 40 /tmp/keystile           # per package
//	go run ./tools/binsize -by module /tmp/keystile        # per module (stdlib as one)
//
// What no symbol owns — the function tables (.gopclntab), the DWARF — is
// shown per section, so the columns add up to the file. .bss and .noptrbss
// take no file space and are left out.
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	by := flag.String("by", "package", "package or module")
	top := flag.Int("top", 30, "rows to print")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: binsize [-by package|module] [-top N] BINARY")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *by, *top); err != nil {
		fmt.Fprintln(os.Stderr, "binsize:", err)
		os.Exit(1)
	}
}

// sizes is what one package (or module) holds, in bytes.
type sizes struct{ text, rodata, data int64 }

func (s sizes) total() int64 { return s.text + s.rodata + s.data }

func run(path, by string, top int) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("%s: %w (built with -ldflags=-s?)", path, err)
	}
	group := packageOf
	if by == "module" {
		group = func(name string) string { return moduleOf(packageOf(name)) }
	}
	per := map[string]*sizes{}
	owned := map[string]int64{} // per section, what the symbols cover
	for _, s := range syms {
		if s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(f.Sections) || s.Size == 0 {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS {
			continue
		}
		g := group(s.Name)
		if per[g] == nil {
			per[g] = &sizes{}
		}
		switch {
		case sec.Flags&elf.SHF_EXECINSTR != 0:
			per[g].text += int64(s.Size)
		case sec.Flags&elf.SHF_WRITE != 0:
			per[g].data += int64(s.Size)
		default:
			per[g].rodata += int64(s.Size)
		}
		owned[sec.Name] += int64(s.Size)
	}
	names := make([]string, 0, len(per))
	var all sizes
	for n, s := range per {
		names = append(names, n)
		all.text += s.text
		all.rodata += s.rodata
		all.data += s.data
	}
	sort.Slice(names, func(i, j int) bool { return per[names[i]].total() > per[names[j]].total() })
	fmt.Printf("%9s %9s %9s %9s  %s\n", "total kB", "code", "rodata", "data", by)
	for i, n := range names {
		if i == top {
			break
		}
		s := per[n]
		fmt.Printf("%9.1f %9.1f %9.1f %9.1f  %s\n", kb(s.total()), kb(s.text), kb(s.rodata), kb(s.data), n)
	}
	fmt.Printf("%9.1f %9.1f %9.1f %9.1f  all symbols (%d %ss)\n", kb(all.total()), kb(all.text), kb(all.rodata), kb(all.data), len(per), by)
	fmt.Println("\nsections (file bytes; \"unowned\" is what no symbol covers):")
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_NOBITS || sec.Size < 64<<10 {
			continue
		}
		fmt.Printf("%9.1f kB %-16s unowned %9.1f kB\n", kb(int64(sec.Size)), sec.Name, kb(int64(sec.Size)-owned[sec.Name]))
	}
	fmt.Printf("%9.1f kB the file\n", kb(fi.Size()))
	return nil
}

func kb(n int64) float64 { return float64(n) / 1000 }

// packageOf is the import path a symbol's name starts with:
// "github.com/a/b.(*T).M" → "github.com/a/b"; type descriptors and
// generic instantiations count for the package that declares them.
func packageOf(name string) string {
	for _, p := range []string{"type:.eq.", "type:.hash.", "type:", "go:itab.", "go:info.", "go:cuinfo."} {
		if strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	name = strings.TrimLeft(name, "*[]0123456789")
	if strings.HasPrefix(name, "go:") {
		return "go: (strings, func info, other linker data)"
	}
	if i := strings.IndexAny(name, "[,"); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndexByte(name, '/')
	if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
		return name[:slash+1+dot]
	}
	if name == "" {
		return "(unnamed)"
	}
	return name
}

// moduleOf folds a package path into its module, roughly: the standard
// library as one, otherwise the first three path elements
// (github.com/owner/repo) or two (modernc.org/sqlite, gopkg.in/yaml.v3).
func moduleOf(pkg string) string {
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "standard library (and runtime)"
	}
	if strings.HasPrefix(first, "go:") {
		return pkg
	}
	n := 3
	switch first {
	case "modernc.org", "gopkg.in", "go.uber.org":
		n = 2
	}
	parts := strings.SplitN(pkg, "/", n+1)
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.Join(parts, "/")
}
