package wasmbin

// Encode returns the binary encoding of m. The output depends only on m:
// sections are written in the canonical order with minimal LEB128 numbers,
// empty vector sections are left out, and each custom section is written
// after the section its After field names (in the order of m.Customs among
// those with the same After). For a module whose numbers were minimal,
// Encode(Parse(b)) == b.
func (m *Module) Encode() []byte {
	size := 64 + len(m.Elements) + len(m.Data)
	for i := range m.Code {
		size += len(m.Code[i].Code) + 8
	}
	for i := range m.Customs {
		size += len(m.Customs[i].Name) + len(m.Customs[i].Data) + 8
	}
	e := encoder{out: make([]byte, 0, size)}
	e.out = append(e.out, magic...)
	e.out = append(e.out, 1, 0, 0, 0)

	e.customsAfter(m, SectionCustom)
	for _, id := range canonicalOrder {
		m.encodeSection(&e, id)
		e.customsAfter(m, id)
	}
	// Customs whose After names no section id come last.
	for _, c := range m.Customs {
		if c.After != SectionCustom && sectionRank(c.After) == 0 {
			e.custom(c)
		}
	}
	return e.out
}

type encoder struct {
	out     []byte
	payload []byte // scratch buffer for the section being written
}

func (e *encoder) customsAfter(m *Module, id byte) {
	for _, c := range m.Customs {
		if c.After == id {
			e.custom(c)
		}
	}
}

func (e *encoder) custom(c Custom) {
	p := AppendULEB128(e.payload[:0], uint64(len(c.Name)))
	p = append(p, c.Name...)
	p = append(p, c.Data...)
	e.payload = p
	e.section(SectionCustom, p)
}

func (e *encoder) section(id byte, payload []byte) {
	e.out = append(e.out, id)
	e.out = AppendULEB128(e.out, uint64(len(payload)))
	e.out = append(e.out, payload...)
}

func appendName(dst []byte, s string) []byte {
	dst = AppendULEB128(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendValTypes(dst []byte, ts []ValType) []byte {
	dst = AppendULEB128(dst, uint64(len(ts)))
	for _, t := range ts {
		dst = append(dst, byte(t))
	}
	return dst
}

func appendLimits(dst []byte, l Limits) []byte {
	if l.HasMax {
		dst = append(dst, 1)
		dst = AppendULEB128(dst, uint64(l.Min))
		return AppendULEB128(dst, uint64(l.Max))
	}
	dst = append(dst, 0)
	return AppendULEB128(dst, uint64(l.Min))
}

func appendTable(dst []byte, t Table) []byte {
	dst = append(dst, byte(t.Elem))
	return appendLimits(dst, t.Limits)
}

func appendGlobalType(dst []byte, g GlobalType) []byte {
	mut := byte(0)
	if g.Mutable {
		mut = 1
	}
	return append(dst, byte(g.Type), mut)
}

func (m *Module) encodeSection(e *encoder, id byte) {
	p := e.payload[:0]
	switch id {
	case SectionType:
		if len(m.Types) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Types)))
		for _, t := range m.Types {
			p = append(p, 0x60)
			p = appendValTypes(p, t.Params)
			p = appendValTypes(p, t.Results)
		}
	case SectionImport:
		if len(m.Imports) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Imports)))
		for _, im := range m.Imports {
			p = appendName(p, im.Module)
			p = appendName(p, im.Name)
			p = append(p, byte(im.Kind))
			switch im.Kind {
			case KindFunc:
				p = AppendULEB128(p, uint64(im.Func))
			case KindTable:
				p = appendTable(p, im.Table)
			case KindMemory:
				p = appendLimits(p, im.Memory)
			case KindGlobal:
				p = appendGlobalType(p, im.Global)
			}
		}
	case SectionFunction:
		if len(m.Funcs) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Funcs)))
		for _, t := range m.Funcs {
			p = AppendULEB128(p, uint64(t))
		}
	case SectionTable:
		if len(m.Tables) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Tables)))
		for _, t := range m.Tables {
			p = appendTable(p, t)
		}
	case SectionMemory:
		if len(m.Memories) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Memories)))
		for _, l := range m.Memories {
			p = appendLimits(p, l)
		}
	case SectionGlobal:
		if len(m.Globals) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Globals)))
		for _, g := range m.Globals {
			p = appendGlobalType(p, g.Type)
			p = append(p, g.Init...)
		}
	case SectionExport:
		if len(m.Exports) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Exports)))
		for _, ex := range m.Exports {
			p = appendName(p, ex.Name)
			p = append(p, byte(ex.Kind))
			p = AppendULEB128(p, uint64(ex.Index))
		}
	case SectionStart:
		if m.Start == nil {
			return
		}
		p = AppendULEB128(p, uint64(*m.Start))
	case SectionElement:
		if !m.HasElements {
			return
		}
		p = append(p, m.Elements...)
	case SectionDataCount:
		if m.DataCount == nil {
			return
		}
		p = AppendULEB128(p, uint64(*m.DataCount))
	case SectionCode:
		if len(m.Code) == 0 {
			return
		}
		p = AppendULEB128(p, uint64(len(m.Code)))
		var locals []byte
		for _, b := range m.Code {
			locals = AppendULEB128(locals[:0], uint64(len(b.Locals)))
			for _, l := range b.Locals {
				locals = AppendULEB128(locals, uint64(l.Count))
				locals = append(locals, byte(l.Type))
			}
			p = AppendULEB128(p, uint64(len(locals)+len(b.Code)))
			p = append(p, locals...)
			p = append(p, b.Code...)
		}
	case SectionData:
		if !m.HasData {
			return
		}
		p = append(p, m.Data...)
	default:
		return
	}
	e.payload = p
	e.section(id, p)
}
