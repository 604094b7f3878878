// SPDX-License-Identifier: GPL-2.0
/*
 * rig-probe: the guest's probe, as a program. It prints the same report as the rig_probe module
 * (format "rig-probe 2", docs/probe-format.md) on any x86-64 kernel that has BTF and /proc/kcore,
 * with no module, no headers and no compiler matching the kernel's:
 *
 *   - the layout of every structure it reads (struct page, mem_section, zone, per_cpu_pages,
 *     pglist_data) and the numbers it needs (page flag bits, page types, zone count, orders,
 *     MAX_NUMNODES) come from the kernel's own BTF, /sys/kernel/btf/vmlinux;
 *   - the addresses of the kernel's variables from /proc/kallsyms (CONFIG_KALLSYMS_ALL);
 *   - the memory from /proc/kcore, which the kernel rebuilds after every hot(un)plug.
 *
 * It computes what the module computes, step for step (the module's function names are in the
 * comments), so the two agree on every page: the rig checks that on booted kernels.
 *
 * Usage: rig-probe snapshot
 *        rig-probe query PFN[-PFN]...
 *        rig-probe frees setup | start [LO-HI] | stop   (the page frees of a step, below)
 * The route: the rig_probe module when it is loaded, else kcore; "rig.probe=kcore" or
 * "rig.probe=module" on the kernel command line chooses, and RIG_PROBE_ROUTE=kcore|module in the
 * environment over that. The snapshot says which ("probe ROUTE").
 * Exit: 0; 22 a malformed query (EINVAL), 7 a query too large (E2BIG); 1 anything else, with one
 * line on stderr.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PROBE_FORMAT 2
#define MAX_SECTIONS 8192UL /* the module's max_sections: 1 TiB of physical address space */
#define MAX_ENTRIES (1UL << 18)
#define MAX_QUERY_PFNS (1UL << 22)
#define MAX_QUERY_RANGES (1UL << 16)
#define MAX_TOKEN 64
#define PAGE_SHIFT 12
#define PAGE_SIZE 4096UL
#define SECTION_SIZE_BITS 27 /* x86-64 */
#define PFN_SECTION_SHIFT (SECTION_SIZE_BITS - PAGE_SHIFT)
#define PAGES_PER_SECTION (1UL << PFN_SECTION_SHIFT)
#define PAGES_PER_SUBSECTION 512UL /* 2 MiB */
#define START_KERNEL_MAP 0xffffffff80000000UL
#define KERNEL_IMAGE_SIZE (1UL << 30)
#define THP_ORDER 9 /* HPAGE_PMD_ORDER (6.5+) and pageblock_order (6.1): 9 on x86-64 */
#define COSTLY_ORDER 3 /* PAGE_ALLOC_COSTLY_ORDER */

/* x86 page-table entry bits */
#define _PAGE_PRESENT 0x1UL
#define _PAGE_PSE 0x80UL
#define _PAGE_PROTNONE 0x100UL
#define _PAGE_KNL_ERRATUM_MASK 0x60UL /* dirty | accessed */
#define PTE_PFN_MASK 0x000ffffffffff000UL
#define PMD_PFN_MASK 0x000fffffffe00000UL

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("rig-probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

static char *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 20, n = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = xcalloc(cap + 1, 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die("out of memory");
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("reading %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- BTF: the kernel's own type information ---- */

enum { K_INT = 1, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF, K_VOLATILE, K_CONST, K_RESTRICT,
       K_FUNC, K_FUNC_PROTO, K_VAR, K_DATASEC, K_FLOAT, K_DECL_TAG, K_TYPE_TAG, K_ENUM64 };

struct btf_type {
	uint32_t name_off, info, size_or_type;
};

static struct {
	char *data;
	size_t len;
	const char *strs;
	uint32_t str_len;
	const struct btf_type **types; /* by id, from 1 */
	uint32_t nr;
} btf;

static unsigned kind_of(const struct btf_type *t) { return (t->info >> 24) & 0x1f; }
static unsigned vlen_of(const struct btf_type *t) { return t->info & 0xffff; }
static const char *btf_name(uint32_t off) { return off < btf.str_len ? btf.strs + off : ""; }

static void btf_load(const char *path)
{
	uint32_t hdr_len, type_off, type_len, str_off, str_len, cap = 1 << 17;
	const char *p, *end;

	btf.data = read_whole(path, &btf.len);
	if (!btf.data)
		die("no BTF at %s (CONFIG_DEBUG_INFO_BTF): %s", path, strerror(errno));
	uint16_t magic = 0;

	if (btf.len >= 2)
		memcpy(&magic, btf.data, 2);
	if (btf.len < 24 || magic != 0xeB9F)
		die("%s is not BTF", path);
	memcpy(&hdr_len, btf.data + 4, 4);
	memcpy(&type_off, btf.data + 8, 4);
	memcpy(&type_len, btf.data + 12, 4);
	memcpy(&str_off, btf.data + 16, 4);
	memcpy(&str_len, btf.data + 20, 4);
	if (hdr_len % 4 || type_off % 4)
		die("%s: BTF sections not aligned", path);
	if ((uint64_t)hdr_len + type_off + type_len > btf.len || (uint64_t)hdr_len + str_off + str_len > btf.len)
		die("%s: BTF sections out of bounds", path);
	btf.strs = btf.data + hdr_len + str_off;
	btf.str_len = str_len;
	btf.types = xcalloc(cap, sizeof(*btf.types));
	p = btf.data + hdr_len + type_off;
	end = p + type_len;
	while (p + sizeof(struct btf_type) <= end) {
		const struct btf_type *t = (const void *)p;
		unsigned v = vlen_of(t);
		size_t extra;

		switch (kind_of(t)) {
		case K_INT: case K_VAR: case K_DECL_TAG: extra = 4; break;
		case K_ARRAY: extra = 12; break;
		case K_STRUCT: case K_UNION: case K_DATASEC: case K_ENUM64: extra = 12UL * v; break;
		case K_ENUM: case K_FUNC_PROTO: extra = 8UL * v; break;
		case K_PTR: case K_FWD: case K_TYPEDEF: case K_VOLATILE: case K_CONST: case K_RESTRICT: case K_FUNC:
		case K_FLOAT: case K_TYPE_TAG: extra = 0; break;
		default: die("%s: BTF kind %u this probe does not know (type %u)", path, kind_of(t), btf.nr + 1);
		}
		if ((size_t)(end - p) < sizeof(*t) + extra)
			die("%s: BTF type %u runs past the type section", path, btf.nr + 1);
		if (btf.nr + 2 > cap) {
			cap *= 2;
			btf.types = realloc(btf.types, cap * sizeof(*btf.types));
			if (!btf.types)
				die("out of memory");
		}
		btf.types[++btf.nr] = t;
		p += sizeof(*t) + extra;
	}
}

static const struct btf_type *btf_type(uint32_t id)
{
	if (id == 0 || id > btf.nr)
		die("BTF type id %u out of range", id);
	return btf.types[id];
}

/* Follows typedefs and qualifiers. */
static uint32_t btf_resolve(uint32_t id)
{
	for (int depth = 0; depth < 32; depth++) {
		unsigned k = kind_of(btf_type(id));

		if (k != K_TYPEDEF && k != K_VOLATILE && k != K_CONST && k != K_RESTRICT && k != K_TYPE_TAG)
			return id;
		id = btf_type(id)->size_or_type;
	}
	die("BTF typedef chain too long");
}

static uint64_t btf_size_at(uint32_t id, int depth)
{
	const struct btf_type *t = btf_type(btf_resolve(id));

	if (depth > 32)
		die("BTF: type %u nests too deep", id);

	switch (kind_of(t)) {
	case K_INT: case K_STRUCT: case K_UNION: case K_ENUM: case K_ENUM64: case K_FLOAT: return t->size_or_type;
	case K_PTR: return 8;
	case K_ARRAY: {
		const uint32_t *a = (const uint32_t *)(t + 1);
		return btf_size_at(a[0], depth + 1) * a[2];
	}
	default: die("BTF: no size for type %u", id);
	}
}

static uint64_t btf_size(uint32_t id) { return btf_size_at(id, 0); }

/* The struct (or union) named `name`, with members; 0 when the kernel has none. */
static uint32_t btf_find_struct(const char *name)
{
	for (uint32_t id = 1; id <= btf.nr; id++) {
		const struct btf_type *t = btf.types[id];

		if ((kind_of(t) == K_STRUCT || kind_of(t) == K_UNION) && vlen_of(t) &&
		    !strcmp(btf_name(t->name_off), name))
			return id;
	}
	return 0;
}

static uint32_t need_struct(const char *name)
{
	uint32_t id = btf_find_struct(name);

	if (!id)
		die("this kernel's BTF has no struct %s", name);
	return id;
}

/* Member `name` of struct `id`, searched also inside anonymous structs and unions. Returns the
 * byte offset and the member's type through *type; -1 when absent. */
static long btf_member_at(uint32_t id, const char *name, uint32_t *type, int depth)
{
	const struct btf_type *t = btf_type(btf_resolve(id));
	const uint32_t *m = (const uint32_t *)(t + 1);
	unsigned kflag = t->info >> 31;

	if (kind_of(t) != K_STRUCT && kind_of(t) != K_UNION)
		return -1;
	for (unsigned i = 0; i < vlen_of(t); i++, m += 3) {
		uint32_t bits = kflag ? (m[2] & 0xffffff) : m[2];

		if (m[0] && !strcmp(btf_name(m[0]), name)) {
			if (type)
				*type = m[1];
			return bits / 8;
		}
		if (!m[0] && depth < 16) {
			long inner = btf_member_at(m[1], name, type, depth + 1);

			if (inner >= 0)
				return bits / 8 + inner;
		}
	}
	return -1;
}

static long btf_member(uint32_t id, const char *name, uint32_t *type) { return btf_member_at(id, name, type, 0); }

static long need_member(uint32_t sid, const char *sname, const char *name, uint32_t *type)
{
	long off = btf_member(sid, name, type);

	if (off < 0)
		die("this kernel's struct %s has no member %s", sname, name);
	return off;
}

/* The number of elements of an array type. */
static uint32_t btf_array_len(uint32_t id)
{
	const struct btf_type *t = btf_type(btf_resolve(id));

	if (kind_of(t) != K_ARRAY)
		die("BTF: type %u is not an array", id);
	return ((const uint32_t *)(t + 1))[2];
}

static int btf_find_enum(const char *name)
{
	for (uint32_t id = 1; id <= btf.nr; id++) {
		unsigned k = kind_of(btf.types[id]);

		if ((k == K_ENUM || k == K_ENUM64) && !strcmp(btf_name(btf.types[id]->name_off), name))
			return 1;
	}
	return 0;
}

/* The value of enumerator `name` in the enum named `in` (any enum when NULL); 0 when absent, 1
 * when found. */
static int btf_enum_value_in(const char *in, const char *name, int64_t *value)
{
	for (uint32_t id = 1; id <= btf.nr; id++) {
		const struct btf_type *t = btf.types[id];
		unsigned k = kind_of(t);

		if (in && strcmp(btf_name(t->name_off), in))
			continue;
		if (k == K_ENUM) {
			const int32_t *e = (const int32_t *)(t + 1);

			for (unsigned i = 0; i < vlen_of(t); i++, e += 2)
				if (!strcmp(btf_name((uint32_t)e[0]), name)) {
					*value = (t->info >> 31) ? (int64_t)e[1] : (int64_t)(uint32_t)e[1];
					return 1;
				}
		} else if (k == K_ENUM64) {
			const uint32_t *e = (const uint32_t *)(t + 1);

			for (unsigned i = 0; i < vlen_of(t); i++, e += 3)
				if (!strcmp(btf_name(e[0]), name)) {
					*value = (int64_t)(((uint64_t)e[2] << 32) | e[1]);
					return 1;
				}
		}
	}
	return 0;
}

static int btf_enum_value(const char *name, int64_t *value) { return btf_enum_value_in(NULL, name, value); }

static int64_t need_enum(const char *name)
{
	int64_t v;

	if (!btf_enum_value(name, &v))
		die("this kernel's BTF has no enumerator %s", name);
	return v;
}

/* ---- kallsyms ---- */

static char *kallsyms;
static size_t kallsyms_len;

/* The address of symbol `name` (any type); 0 when absent. */
static uint64_t ksym(const char *name)
{
	size_t nl = strlen(name);
	char *end = kallsyms + kallsyms_len;

	for (char *line = kallsyms; line && line < end;) {
		char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t len = eol ? (size_t)(eol - line) : (size_t)(end - line);

		/* "ffffffff81000000 T name [module]" */
		if (len >= 19 + nl && line[16] == ' ' && line[18] == ' ' && !memcmp(line + 19, name, nl) &&
		    (len == 19 + nl || line[19 + nl] == ' ' || line[19 + nl] == '\t'))
			return strtoull(line, NULL, 16);
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}

static uint64_t need_ksym(const char *name)
{
	uint64_t a = ksym(name);

	if (!a)
		die("/proc/kallsyms has no %s (or hides addresses: kptr_restrict)", name);
	return a;
}

/* ---- kcore: the kernel's memory ---- */

struct segment {
	uint64_t vaddr, size, offset;
};
static struct segment *segs;
static unsigned nr_segs;
static int kcore_fd = -1;

static void kcore_open(void)
{
	Elf64_Ehdr eh;

	kcore_fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (kcore_fd < 0)
		die("cannot open /proc/kcore (CONFIG_PROC_KCORE, root): %s", strerror(errno));
	if (pread(kcore_fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		die("/proc/kcore is not a 64-bit ELF core");
	segs = xcalloc(eh.e_phnum, sizeof(*segs));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(kcore_fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			die("/proc/kcore: short program header");
		if (ph.p_type != PT_LOAD)
			continue;
		segs[nr_segs].vaddr = ph.p_vaddr;
		segs[nr_segs].size = ph.p_memsz;
		segs[nr_segs].offset = ph.p_offset;
		nr_segs++;
	}
}

/* A cache of the 4 KiB pages of kernel memory read so far: a snapshot reads each once. */
#define CACHE_SLOTS 8192
static struct {
	uint64_t va; /* page address + 1; 0 = empty */
	int ok;
	unsigned char data[PAGE_SIZE];
} *cache;

static int read_page(uint64_t page_va, unsigned char *out)
{
	for (unsigned i = 0; i < nr_segs; i++) {
		if (page_va < segs[i].vaddr || page_va - segs[i].vaddr >= segs[i].size)
			continue;
		if (pread(kcore_fd, out, PAGE_SIZE, (off_t)(segs[i].offset + (page_va - segs[i].vaddr))) == (ssize_t)PAGE_SIZE)
			return 1;
	}
	return 0;
}

/* Reads `len` bytes of kernel memory at `va`; 0 when some of it is not in /proc/kcore. */
static int kread(uint64_t va, void *buf, size_t len)
{
	unsigned char *o = buf;

	while (len) {
		uint64_t page = va & ~(PAGE_SIZE - 1), in = va - page;
		size_t n = PAGE_SIZE - in < len ? PAGE_SIZE - in : len;
		unsigned slot = (unsigned)((page >> PAGE_SHIFT) % CACHE_SLOTS);

		if (cache[slot].va != page + 1) {
			cache[slot].va = page + 1;
			cache[slot].ok = read_page(page, cache[slot].data);
		}
		if (!cache[slot].ok)
			return 0;
		memcpy(o, cache[slot].data + in, n);
		o += n;
		va += n;
		len -= n;
	}
	return 1;
}

static uint64_t kread64(uint64_t va)
{
	uint64_t v = 0;

	if (!kread(va, &v, sizeof(v)))
		die("cannot read kernel memory at 0x%llx through /proc/kcore", (unsigned long long)va);
	return v;
}

/* The same, read now (not from the cache): for what changes while the probe reads, the per-cpu
 * lists. 0 with *ok cleared when unreadable (a list entry that went away under the walk). */
static uint64_t kread64_now(uint64_t va, int *ok)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < nr_segs; i++)
		if (va >= segs[i].vaddr && va - segs[i].vaddr + 8 <= segs[i].size) {
			if (pread(kcore_fd, &v, 8, (off_t)(segs[i].offset + (va - segs[i].vaddr))) == 8)
				return v;
			break;
		}
	*ok = 0;
	return 0;
}

static uint32_t kread32(uint64_t va)
{
	uint32_t v = 0;

	if (!kread(va, &v, sizeof(v)))
		die("cannot read kernel memory at 0x%llx through /proc/kcore", (unsigned long long)va);
	return v;
}

/* ---- the kernel's layout, asked of the kernel ---- */

static struct {
	uint64_t page_size; /* sizeof(struct page) */
	long pg_flags, pg_refcount, pg_private, pg_index, pg_compound_head, pg_page_type, pg_pcp_list;
	int has_index;
	uint64_t ms_size, ms_usage;
	long usage_subsection_map;
	uint64_t zone_size;
	long zone_per_cpu_pageset, zone_present_pages;
	long pgdat_node_zones;
	uint64_t pgdat_size;
	long pcp_lists, pcp_count;
	uint32_t nr_pcp_lists;
	unsigned nr_orders, max_nr_zones, nodes_shift, zones_width, low_pcp_lists, pcptypes;
	int bit_reserved, bit_private, bit_lru, bit_owner_priv_1, bit_head, bit_slab; /* bit_slab -1: a page type */
	int pgty; /* 1: page_type >> 24 == PGTY_x (6.10+); 0: (page_type & (base | flag)) == base */
	uint32_t type_base, type_buddy, type_table, type_slab;
	int l5;
	uint64_t page_offset_base, vmemmap_base, phys_base, mem_section, node_data, pgd, per_cpu_offset;
	uint64_t nr_mem_sections;
	unsigned max_physmem_bits; /* MAX_PHYSMEM_BITS: 46, or 52 under 5-level paging */
	const char *encoding;
	long types[3];
} K;

/* The section flags (an enum in include/linux/mmzone.h since 5.x, read from BTF when it has it;
 * these values otherwise). */
static uint64_t SECTION_HAS_MEM_MAP = 1UL << 1, SECTION_IS_ONLINE = 1UL << 2, SECTION_IS_EARLY = 1UL << 3,
		SECTION_TAINT_ZONE_DEVICE = 1UL << 4;

static int flag_bit(const char *name)
{
	return (int)need_enum(name);
}

/* The layout, from BTF alone. */
static void learn_layout(void)
{
	uint32_t page = need_struct("page"), ms = need_struct("mem_section"), usage = need_struct("mem_section_usage");
	uint32_t zone = need_struct("zone"), pgdat = need_struct("pglist_data"), pcp = need_struct("per_cpu_pages");
	uint32_t zonelist = need_struct("zonelist"), t;
	int64_t v;
	uint64_t zonerefs;

	K.page_size = btf_size(page);
	K.pg_flags = need_member(page, "page", "flags", NULL);
	K.pg_refcount = need_member(page, "page", "_refcount", NULL);
	K.pg_private = need_member(page, "page", "private", NULL);
	K.pg_index = btf_member(page, "index", NULL);
	K.has_index = K.pg_index >= 0;
	/* 7.3 renamed it compound_info (it may hold a mask: compound_head() below reads both). */
	K.pg_compound_head = btf_member(page, "compound_head", NULL);
	if (K.pg_compound_head < 0)
		K.pg_compound_head = need_member(page, "page", "compound_info", NULL);
	K.pg_page_type = need_member(page, "page", "page_type", NULL);
	K.pg_pcp_list = need_member(page, "page", "pcp_list", NULL);
	K.ms_size = btf_size(ms);
	K.ms_usage = (uint64_t)need_member(ms, "mem_section", "usage", NULL);
	K.usage_subsection_map = need_member(usage, "mem_section_usage", "subsection_map", NULL);
	K.zone_size = btf_size(zone);
	K.zone_per_cpu_pageset = need_member(zone, "zone", "per_cpu_pageset", NULL);
	K.zone_present_pages = need_member(zone, "zone", "present_pages", NULL);
	need_member(zone, "zone", "free_area", &t);
	K.nr_orders = btf_array_len(t);
	K.pgdat_node_zones = need_member(pgdat, "pglist_data", "node_zones", NULL);
	K.pgdat_size = btf_size(pgdat);
	K.pcp_lists = need_member(pcp, "per_cpu_pages", "lists", &t);
	K.pcp_count = need_member(pcp, "per_cpu_pages", "count", NULL);
	K.nr_pcp_lists = btf_array_len(t);
	K.pcptypes = (unsigned)need_enum("MIGRATE_PCPTYPES");
	K.low_pcp_lists = K.pcptypes * (COSTLY_ORDER + 1);
	K.max_nr_zones = (unsigned)need_enum("__MAX_NR_ZONES");
	K.zones_width = K.max_nr_zones <= 1 ? 0 : K.max_nr_zones <= 2 ? 1 : K.max_nr_zones <= 4 ? 2 : 3;
	/* MAX_NUMNODES: a zonelist holds MAX_NUMNODES * MAX_NR_ZONES zonerefs and one terminator. */
	need_member(zonelist, "zonelist", "_zonerefs", &t);
	zonerefs = btf_array_len(t) - 1;
	if (zonerefs % K.max_nr_zones)
		die("cannot tell MAX_NUMNODES from struct zonelist (%llu zonerefs)", (unsigned long long)zonerefs);
	for (K.nodes_shift = 0; (1ULL << K.nodes_shift) < zonerefs / K.max_nr_zones; K.nodes_shift++)
		;
	K.bit_reserved = flag_bit("PG_reserved");
	K.bit_private = flag_bit("PG_private");
	K.bit_lru = flag_bit("PG_lru");
	K.bit_owner_priv_1 = flag_bit("PG_owner_priv_1");
	K.bit_head = flag_bit("PG_head");
	/* Slab: a page flag up to 6.9 (PG_slab in enum pageflags), a page type after (PG_slab in enum
	 * pagetype, 6.10; PGTY_slab, 6.11+). */
	K.bit_slab = btf_enum_value_in("pageflags", "PG_slab", &v) ? (int)v : -1;
	if (btf_enum_value("PGTY_buddy", &v)) {
		K.pgty = 1;
		K.type_buddy = (uint32_t)v;
		K.type_table = (uint32_t)need_enum("PGTY_table");
		K.type_slab = (uint32_t)need_enum("PGTY_slab");
		K.bit_slab = -1;
	} else if (btf_enum_value("PAGE_TYPE_BASE", &v)) { /* 6.9, 6.10: enum pagetype, inverted bits */
		K.type_base = (uint32_t)v;
		K.type_buddy = (uint32_t)need_enum("PG_buddy");
		K.type_table = (uint32_t)need_enum("PG_table");
		if (K.bit_slab < 0) {
			if (!btf_enum_value_in("pagetype", "PG_slab", &v))
				die("cannot tell how this kernel marks slab pages");
			K.type_slab = (uint32_t)v;
		}
	} else { /* up to 6.8: #defines with no BTF of their own, these values since 5.x */
		K.type_base = 0xf0000000;
		K.type_buddy = 0x00000080;
		K.type_table = 0x00000200;
		if (K.bit_slab < 0)
			die("cannot tell how this kernel marks slab pages");
	}
	/* What the arithmetic below divides by or shifts with: a BTF that says otherwise is no x86-64
	 * kernel this probe knows. */
	if (K.page_size < 40 || K.page_size > 256 || K.page_size % 8 || !K.ms_size || PAGE_SIZE % K.ms_size ||
	    K.max_nr_zones < 1 || K.max_nr_zones > 8 || K.nr_orders < 1 || K.nr_orders > 16 || !K.pcptypes ||
	    K.nr_pcp_lists < K.low_pcp_lists || K.nr_pcp_lists > K.low_pcp_lists + 2 || K.nodes_shift > 16)
		die("this kernel's BTF describes a layout this probe does not know (struct page %llu bytes, "
		    "mem_section %llu, %u zones, %u orders, %u+%u pcp lists)",
		    (unsigned long long)K.page_size, (unsigned long long)K.ms_size, K.max_nr_zones, K.nr_orders,
		    K.low_pcp_lists, K.nr_pcp_lists - K.low_pcp_lists);
	/* The section flags' bits, where BTF has their enum (include/linux/mmzone.h). */
	if (btf_enum_value("SECTION_HAS_MEM_MAP_BIT", &v))
		SECTION_HAS_MEM_MAP = 1UL << v;
	if (btf_enum_value("SECTION_IS_ONLINE_BIT", &v))
		SECTION_IS_ONLINE = 1UL << v;
	if (btf_enum_value("SECTION_IS_EARLY_BIT", &v))
		SECTION_IS_EARLY = 1UL << v;
	if (btf_enum_value("SECTION_TAINT_ZONE_DEVICE_BIT", &v))
		SECTION_TAINT_ZONE_DEVICE = 1UL << v;

}

/* The addresses, read from /proc/kallsyms and /proc/kcore. */
static void learn_memory(void)
{
	/* Without CONFIG_DYNAMIC_MEMORY_LAYOUT these are constants, not variables. */
	K.page_offset_base = ksym("page_offset_base") ? kread64(ksym("page_offset_base")) : 0xffff888000000000UL;
	K.vmemmap_base = ksym("vmemmap_base") ? kread64(ksym("vmemmap_base")) : 0xffffea0000000000UL;
	K.phys_base = kread64(need_ksym("phys_base"));
	K.mem_section = kread64(need_ksym("mem_section")); /* SPARSEMEM_EXTREME: struct mem_section ** */
	K.node_data = need_ksym("node_data");
	K.pgd = need_ksym("init_top_pgt");
	K.per_cpu_offset = need_ksym("__per_cpu_offset");
	/* 5-level paging puts the direct map below the 4-level hole's upper half (0xff11...). */
	K.l5 = K.page_offset_base < 0xffff800000000000UL;
	K.max_physmem_bits = K.l5 ? 52 : 46;
	K.nr_mem_sections = 1UL << (K.max_physmem_bits - SECTION_SIZE_BITS);

	/* Bootmem info: present when the kernel has the functions that keep it. Since 6.14 the type
	 * and info are packed into page->private, and the types became a named enum (bootmem_type);
	 * before, the type was in page->index and the enum anonymous. */
	if (!ksym("get_page_bootmem") && !ksym("put_page_bootmem")) {
		K.encoding = "none";
	} else {
		K.encoding = btf_find_enum("bootmem_type") || !K.has_index ? "private-packed" : "index-private";
		if (!btf_enum_value("SECTION_INFO", &K.types[0]) || !btf_enum_value("MIX_SECTION_INFO", &K.types[1]) ||
		    !btf_enum_value("NODE_INFO", &K.types[2])) {
			/* Up to 6.13 the types are an anonymous enum that pahole leaves out of BTF; its
			 * values never changed (SECTION_INFO = 12). A named enum bootmem_type is always in
			 * BTF: without its values there is nothing to go by. */
			if (strcmp(K.encoding, "index-private"))
				die("this kernel has bootmem info but its BTF has no SECTION_INFO");
			K.types[0] = 12, K.types[1] = 13, K.types[2] = 14;
		}
	}
}

/* ---- the kernel's helpers, in user space ---- */

static uint64_t mem_section_addr(uint64_t nr) /* __nr_to_section */
{
	uint64_t per_root = PAGE_SIZE / K.ms_size, root;

	if (nr >= K.nr_mem_sections || !K.mem_section)
		return 0;
	root = kread64(K.mem_section + (nr / per_root) * 8);
	if (!root)
		return 0;
	return root + (nr % per_root) * K.ms_size;
}

static uint64_t section_map(uint64_t ms)
{
	return ms ? kread64(ms) : 0;
}

static int valid_section(uint64_t ms) { return ms && (section_map(ms) & SECTION_HAS_MEM_MAP); }
static int online_section(uint64_t ms) { return ms && (section_map(ms) & SECTION_IS_ONLINE); }
static int early_section(uint64_t ms) { return ms && (section_map(ms) & SECTION_IS_EARLY); }

static int pfn_section_valid(uint64_t ms, uint64_t pfn)
{
	uint64_t usage = kread64(ms + K.ms_usage), idx = (pfn & (PAGES_PER_SECTION - 1)) / PAGES_PER_SUBSECTION;

	return usage && ((kread64(usage + (uint64_t)K.usage_subsection_map + (idx / 64) * 8) >> (idx % 64)) & 1);
}

static uint64_t pfn_to_page(uint64_t pfn) { return K.vmemmap_base + pfn * K.page_size; }

/* pfn_to_online_page(): the struct page's address, or 0. A section shared with ZONE_DEVICE
 * counts as not online (the module asks get_dev_pagemap(); the rig's guests have no such memory). */
static uint64_t pfn_to_online_page(uint64_t pfn)
{
	uint64_t nr = pfn >> PFN_SECTION_SHIFT, ms;

	if (nr >= K.nr_mem_sections)
		return 0;
	ms = mem_section_addr(nr);
	if (!online_section(ms) || !pfn_section_valid(ms, pfn))
		return 0;
	if (section_map(ms) & SECTION_TAINT_ZONE_DEVICE)
		return 0;
	return pfn_to_page(pfn);
}

static int pfn_valid(uint64_t pfn)
{
	uint64_t nr = pfn >> PFN_SECTION_SHIFT, ms;

	if (nr >= K.nr_mem_sections)
		return 0;
	ms = mem_section_addr(nr);
	if (!valid_section(ms))
		return 0;
	return early_section(ms) || pfn_section_valid(ms, pfn);
}

/* __pa() of a direct-map or kernel-image address. */
static uint64_t pa_of(uint64_t va)
{
	if (va >= START_KERNEL_MAP)
		return va - START_KERNEL_MAP + K.phys_base;
	return va - K.page_offset_base;
}

static uint64_t virt_to_pfn(uint64_t va) { return pa_of(va) >> PAGE_SHIFT; }

static int virt_addr_valid(uint64_t va) /* __virt_addr_valid() */
{
	uint64_t x;

	if (va >= START_KERNEL_MAP) {
		x = va - START_KERNEL_MAP;
		if (x >= KERNEL_IMAGE_SIZE)
			return 0;
		x += K.phys_base;
	} else {
		x = va - K.page_offset_base;
		if (x > va || (x >> K.max_physmem_bits))
			return 0;
	}
	return pfn_valid(x >> PAGE_SHIFT);
}

static uint64_t page_flags(uint64_t page) { return kread64(page + (uint64_t)K.pg_flags); }
static int page_test(uint64_t page, int bit) { return (page_flags(page) >> bit) & 1; }
static int page_ref(uint64_t page) { return (int)kread32(page + (uint64_t)K.pg_refcount); }
static uint64_t page_private(uint64_t page) { return kread64(page + (uint64_t)K.pg_private); }
static int page_nid(uint64_t page) { return K.nodes_shift ? (int)(page_flags(page) >> (64 - K.nodes_shift)) : 0; }
static unsigned page_zonenum(uint64_t page)
{
	return (unsigned)((page_flags(page) >> (64 - K.nodes_shift - K.zones_width)) & ((1U << K.zones_width) - 1));
}

static int page_has_type(uint64_t page, uint32_t type)
{
	uint32_t pt = kread32(page + (uint64_t)K.pg_page_type);

	if (K.pgty)
		return (pt >> 24) == type;
	return (pt & (K.type_base | type)) == K.type_base;
}

/* _compound_head(): bit 0 marks a tail; the rest points to the head, or (7.3+, with HVO and a
 * power-of-2 struct page) is a mask GENMASK(63, shift) that turns the tail's address into the
 * head's. A kernel address is never such a mask, so the form tells which. */
static uint64_t compound_head(uint64_t page)
{
	uint64_t info = kread64(page + (uint64_t)K.pg_compound_head), x = info & ~1UL;

	if (!(info & 1))
		return page;
	if (((~x) & (~x + 1)) == 0)
		return page & x;
	return x;
}

static int page_slab(uint64_t page)
{
	return K.bit_slab >= 0 ? page_test(page, K.bit_slab) : page_has_type(page, K.type_slab);
}

static uint64_t node_data(int nid) { return kread64(K.node_data + (uint64_t)nid * 8); }

static uint64_t page_zone(uint64_t page)
{
	return node_data(page_nid(page)) + (uint64_t)K.pgdat_node_zones + page_zonenum(page) * K.zone_size;
}

/* ---- cpu and node lists from sysfs ("0-3,5") ---- */

static int in_list(const char *path, int *out, int max)
{
	size_t len;
	char *s = read_whole(path, &len), *p;
	int n = 0;

	if (!s)
		return 0;
	for (p = s; *p && *p != '\n';) {
		long a = strtol(p, &p, 10), b = a;

		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (long i = a; i <= b; i++) {
			if (n == max)
				die("%s lists more than %d entries", path, max);
			out[n++] = (int)i;
		}
		if (*p == ',')
			p++;
		else
			break;
	}
	free(s);
	return n;
}

/* The possible and online nodes and the online cpus, read once before the probe reads memory
 * (each read allocates; see main). A kernel without NUMA sysfs has node 0 alone. */
#define MAX_NODES 1024 /* MAX_NUMNODES with NODES_SHIFT 10, Debian's */
#define MAX_CPUS 8192
static struct {
	int possible[MAX_NODES], online[MAX_NODES], cpus[MAX_CPUS];
	int nr_possible, nr_online, nr_cpus;
} topo;

static void read_topology(void)
{
	topo.nr_possible = in_list("/sys/devices/system/node/possible", topo.possible, MAX_NODES);
	if (!topo.nr_possible)
		topo.possible[topo.nr_possible++] = 0;
	topo.nr_online = in_list("/sys/devices/system/node/online", topo.online, MAX_NODES);
	if (!topo.nr_online)
		topo.online[topo.nr_online++] = 0;
	topo.nr_cpus = in_list("/sys/devices/system/cpu/online", topo.cpus, MAX_CPUS);
	if (!topo.nr_cpus)
		die("cannot read /sys/devices/system/cpu/online");
}

/* ---- what is reported: the module's data, the module's order ---- */

enum role {
	ROLE_MEMMAP,
	ROLE_PTE,
	ROLE_PMD,
	ROLE_PUD,
	ROLE_USAGE,
	ROLE_PGDAT,
	ROLE_DMAP_PMD,
	ROLE_DMAP_PUD,
	ROLE_P4D,
	ROLE_DMAP_PTE
};
static const char *const role_names[] = { "memmap",   "pte",      "pmd", "pud",     "usage",
					   "pgdat",    "dmap_pmd", "dmap_pud", "p4d", "dmap_pte" };

struct entry {
	uint64_t pfn;
	unsigned role;
	long owner;
};
static struct entry *entries;
static unsigned long nr_entries, dropped_entries;

struct pfn_range {
	uint64_t start, end;
};
static struct pfn_range *pcp;
static unsigned long nr_pcp, pcp_cap, dropped_pcp;

static void add(uint64_t pfn, unsigned role, long owner)
{
	if (nr_entries >= MAX_ENTRIES) {
		dropped_entries++;
		return;
	}
	entries[nr_entries].pfn = pfn;
	entries[nr_entries].role = role;
	entries[nr_entries].owner = owner;
	nr_entries++;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pfn_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* walk_pcp(): every online cpu's pcp lists of every populated zone of every online node. The
 * module walks each list under its pcp->lock; from user space the lists can change under the walk
 * (this program's own page faults and reads allocate and free pages on its cpu's lists). So each
 * list is read with fresh reads, and a walk that leaves the memmap or does not come back to the
 * list's head within a bound is read again; returns 0 when the lists would not hold still. */
static int walk_pcp(void)
{
	nr_pcp = 0;
	for (int i = 0; i < topo.nr_online; i++) {
		uint64_t pgdat = node_data(topo.online[i]);

		if (!pgdat)
			continue;
		for (unsigned z = 0; z < K.max_nr_zones; z++) {
			uint64_t zone = pgdat + (uint64_t)K.pgdat_node_zones + z * K.zone_size;
			uint64_t pageset = kread64(zone + (uint64_t)K.zone_per_cpu_pageset);

			if (!kread64(zone + (uint64_t)K.zone_present_pages) || !pageset)
				continue;
			for (int c = 0; c < topo.nr_cpus; c++) {
				uint64_t base = pageset + kread64(K.per_cpu_offset + (uint64_t)topo.cpus[c] * 8);
				int ok = 1;
				/* pcp->count, the pages on all lists, before and after: a walk that a change raced
				 * could still come back to its heads; the count says so. */
				uint64_t count = kread64_now(base + (uint64_t)K.pcp_count, &ok) & 0xffffffffUL, walked = 0;

				for (uint32_t pindex = 0; pindex < K.nr_pcp_lists; pindex++) {
					uint64_t head = base + (uint64_t)K.pcp_lists + pindex * 16, node = kread64_now(head, &ok);
					uint64_t nr_pages = 1UL << (pindex >= K.low_pcp_lists ? THP_ORDER : pindex / K.pcptypes);
					unsigned long steps = 0;

					for (; ok && node != head; node = kread64_now(node, &ok), steps++) {
						uint64_t page = node - (uint64_t)K.pg_pcp_list, pfn;

						if (!node || steps > (1UL << 20) || page < K.vmemmap_base ||
						    (page - K.vmemmap_base) % K.page_size)
							return 0;
						pfn = (page - K.vmemmap_base) / K.page_size;
						if (nr_pcp == pcp_cap)
							return 0;
						pcp[nr_pcp].start = pfn;
						pcp[nr_pcp].end = pfn + nr_pages;
						nr_pcp++;
						walked += nr_pages;
					}
				}
				if (!ok || walked != count || (kread64_now(base + (uint64_t)K.pcp_count, &ok) & 0xffffffffUL) != count ||
				    !ok)
					return 0;
			}
		}
	}
	return 1;
}

static void build_pcp_set(void)
{
	for (int attempt = 0;; attempt++) {
		if (walk_pcp())
			break;
		if (nr_pcp == pcp_cap) { /* more blocks than room: grow (before the next walk) */
			pcp_cap *= 2;
			pcp = realloc(pcp, pcp_cap * sizeof(*pcp));
			if (!pcp)
				die("out of memory");
			memset(pcp, 0, pcp_cap * sizeof(*pcp));
		}
		if (attempt == 50)
			die("the per-cpu free lists changed under every one of %d walks", attempt + 1);
	}
	qsort(pcp, nr_pcp, sizeof(*pcp), cmp_range);
	/* The module reads every page after its walk: pages cached before it (the S lines) are older. */
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		cache[i].va = 0;
}

static int on_pcp(uint64_t pfn)
{
	unsigned long lo = 0, hi = nr_pcp;

	while (lo < hi) {
		unsigned long mid = lo + (hi - lo) / 2;

		if (pcp[mid].start <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && pfn < pcp[lo - 1].end;
}

static int in_free_block(uint64_t pfn, uint64_t page)
{
	uint64_t zone = page_zone(page);

	for (unsigned o = 0; o < K.nr_orders; o++) {
		uint64_t head = pfn_to_online_page(pfn & ~((1UL << o) - 1));

		if (!head || page_zone(head) != zone)
			break;
		if (page_has_type(head, K.type_buddy) && page_private(head) >= o)
			return 1;
	}
	return 0;
}

/* ---- page tables, from init_top_pgt ---- */

static uint64_t table_entry(uint64_t table_pa, unsigned idx)
{
	return kread64(K.page_offset_base + table_pa + idx * 8UL);
}

static int none(uint64_t e) { return (e & ~_PAGE_KNL_ERRATUM_MASK) == 0; }

/* The entry of the p4d level for va: with 4-level paging the pgd entry itself. *p4d_table_pfn is
 * the P4D table page under 5-level paging. 0: none. */
static uint64_t p4d_entry(uint64_t va, uint64_t *p4d_table_pfn)
{
	uint64_t pgd_pa = pa_of(K.pgd), e;

	*p4d_table_pfn = 0;
	if (!K.l5)
		return table_entry(pgd_pa, (unsigned)((va >> 39) & 511));
	e = table_entry(pgd_pa, (unsigned)((va >> 48) & 511));
	if (none(e))
		return 0;
	*p4d_table_pfn = (e & PTE_PFN_MASK) >> PAGE_SHIFT;
	return table_entry(e & PTE_PFN_MASK, (unsigned)((va >> 39) & 511));
}

static void add_table_pages(uint64_t va, long section, int p4d_role, unsigned pud_role, unsigned pmd_role)
{
	uint64_t p4d_pfn, p4d = 0, pud;

	if (K.l5) {
		uint64_t e = table_entry(pa_of(K.pgd), (unsigned)((va >> 48) & 511));

		if (none(e))
			return;
	}
	p4d = p4d_entry(va, &p4d_pfn);
	if (p4d_role >= 0 && K.l5)
		add(p4d_pfn, (unsigned)p4d_role, section);
	if (none(p4d))
		return;
	add((p4d & PTE_PFN_MASK) >> PAGE_SHIFT, pud_role, section);
	pud = table_entry(p4d & PTE_PFN_MASK, (unsigned)((va >> 30) & 511));
	if (none(pud) || (pud & _PAGE_PSE))
		return;
	add((pud & PTE_PFN_MASK) >> PAGE_SHIFT, pmd_role, section);
}

enum { LEVEL_NONE, LEVEL_4K, LEVEL_2M, LEVEL_1G, LEVEL_512G };

/* lookup_address(): the level and entry mapping va; *table_pfn is the page of the entry. */
static int lookup(uint64_t va, uint64_t *entry, uint64_t *table_pfn)
{
	uint64_t p4d_pfn, p4d, pud, pmd, pte;

	if (K.l5 && none(table_entry(pa_of(K.pgd), (unsigned)((va >> 48) & 511))))
		return LEVEL_NONE;
	p4d = p4d_entry(va, &p4d_pfn);
	if (none(p4d))
		return LEVEL_NONE;
	if (!(p4d & _PAGE_PRESENT))
		return LEVEL_512G;
	pud = table_entry(p4d & PTE_PFN_MASK, (unsigned)((va >> 30) & 511));
	if (none(pud))
		return LEVEL_NONE;
	if ((pud & _PAGE_PSE) || !(pud & _PAGE_PRESENT))
		return LEVEL_1G;
	pmd = table_entry(pud & PTE_PFN_MASK, (unsigned)((va >> 21) & 511));
	if (none(pmd))
		return LEVEL_NONE;
	if ((pmd & _PAGE_PSE) || !(pmd & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE))) {
		*entry = pmd;
		return LEVEL_2M;
	}
	pte = table_entry(pmd & PTE_PFN_MASK, (unsigned)((va >> 12) & 511));
	*entry = pte;
	*table_pfn = (pmd & PTE_PFN_MASK) >> PAGE_SHIFT;
	return LEVEL_4K;
}

static void collect_section(uint64_t nr, uint64_t ms)
{
	uint64_t start = pfn_to_page(nr << PFN_SECTION_SHIFT), end = start + PAGES_PER_SECTION * K.page_size, usage;

	add_table_pages(start, (long)nr, ROLE_P4D, ROLE_PUD, ROLE_PMD);
	/* The direct map covers memory from when it is added (arch_add_memory), online or not. */
	add_table_pages(K.page_offset_base + ((nr << PFN_SECTION_SHIFT) << PAGE_SHIFT), (long)nr, -1, ROLE_DMAP_PUD,
			ROLE_DMAP_PMD);
	/*
	 * Where the direct map is not PMD-mapped (no PSE, debug_pagealloc): the PTE table of each
	 * 2 MiB of the section, which remove_pte_table() frees when it empties.
	 */
	for (uint64_t pa = (nr << PFN_SECTION_SHIFT) << PAGE_SHIFT, n = 0; n < (PAGES_PER_SECTION >> 9);
	     n++, pa += 1UL << 21) {
		uint64_t e = 0, table_pfn = 0;

		if (lookup(K.page_offset_base + pa, &e, &table_pfn) == LEVEL_4K)
			add(table_pfn, ROLE_DMAP_PTE, (long)nr);
	}
	for (uint64_t va = start & ~(PAGE_SIZE - 1); va < end; va += PAGE_SIZE) {
		uint64_t e = 0, table_pfn = 0, pfn;
		int level = lookup(va, &e, &table_pfn);

		if (level == LEVEL_2M) {
			uint64_t mask = (e & _PAGE_PSE) ? PMD_PFN_MASK : PTE_PFN_MASK;

			pfn = ((e & mask) >> PAGE_SHIFT) + ((va & ((1UL << 21) - 1)) >> PAGE_SHIFT);
		} else if (level == LEVEL_4K) {
			if (!(e & (_PAGE_PRESENT | _PAGE_PROTNONE)))
				continue;
			pfn = (e & PTE_PFN_MASK) >> PAGE_SHIFT;
			add(table_pfn, ROLE_PTE, (long)nr);
		} else {
			continue;
		}
		add(pfn, ROLE_MEMMAP, (long)nr);
	}
	usage = kread64(ms + K.ms_usage);
	if (usage && virt_addr_valid(usage))
		add(virt_to_pfn(usage), ROLE_USAGE, (long)nr);
}

static void collect(void)
{
	for (uint64_t nr = 0; nr < MAX_SECTIONS && nr < K.nr_mem_sections; nr++) {
		uint64_t ms = mem_section_addr(nr);

		if (valid_section(ms))
			collect_section(nr, ms);
	}
	for (int i = 0; i < topo.nr_possible; i++) {
		uint64_t pgdat = node_data(topo.possible[i]);

		if (!pgdat)
			continue;
		for (uint64_t a = pgdat & ~(PAGE_SIZE - 1); a < pgdat + K.pgdat_size; a += PAGE_SIZE)
			add(virt_to_pfn(a), ROLE_PGDAT, topo.possible[i]);
	}
	qsort(entries, nr_entries, sizeof(*entries), cmp_entry);
}

enum free_kind { FREE_NO, FREE_BUDDY, FREE_PCP };
static const char *const free_names[] = { "no", "buddy", "pcp" };
enum held_kind { HELD_NONE, HELD_SLAB, HELD_LRU, HELD_PGTABLE, HELD_OTHER };
static const char *const held_names[] = { "none", "slab", "lru", "pgtable", "other" };

struct page_state {
	int online, nid, res, priv, buddy, selfhosted, ref;
	uint64_t type, info;
	int free, held;
};

static void page_tag(uint64_t page, uint64_t *type, uint64_t *info)
{
	*type = *info = 0;
	if (!strcmp(K.encoding, "none"))
		return;
	if (!strcmp(K.encoding, "private-packed")) {
		/* bootmem_type() reads page->private whatever the flags say; 6.14 to 6.18 also set
		 * PG_private, 7.2 no longer does. Bootmem pages are memblock pages, Reserved until
		 * put_page_bootmem() frees them, so a Reserved page's private is its tag. */
		if (page_test(page, K.bit_private) || page_test(page, K.bit_reserved)) {
			*type = page_private(page) & 0xf;
			*info = page_private(page) >> 4;
		}
		return;
	}
	*type = K.has_index ? kread64(page + (uint64_t)K.pg_index) : 0;
	*info = page_test(page, K.bit_private) ? page_private(page) : 0;
}

static void read_state(uint64_t pfn, struct page_state *st)
{
	uint64_t page = pfn_to_online_page(pfn), head;

	memset(st, 0, sizeof(*st));
	if (!page)
		return;
	st->online = 1;
	st->nid = page_nid(page);
	st->res = page_test(page, K.bit_reserved);
	st->priv = page_test(page, K.bit_private);
	st->buddy = page_has_type(page, K.type_buddy);
	st->selfhosted = page_test(page, K.bit_owner_priv_1);
	st->ref = page_ref(page);
	page_tag(page, &st->type, &st->info);
	head = compound_head(page);
	if (on_pcp(pfn) && st->ref == 0 && !page_slab(head) && !page_test(head, K.bit_lru))
		st->free = FREE_PCP;
	else if (in_free_block(pfn, page))
		st->free = FREE_BUDDY;
	else
		st->free = FREE_NO;
	if (st->free != FREE_NO)
		st->held = HELD_NONE;
	else if (page_slab(head))
		st->held = HELD_SLAB;
	else if (page_test(head, K.bit_lru))
		st->held = HELD_LRU;
	else if (page_has_type(head, K.type_table))
		st->held = HELD_PGTABLE;
	else if (page_ref(head) == 0)
		st->held = HELD_NONE;
	else
		st->held = HELD_OTHER;
}

static int same_state(const struct page_state *a, const struct page_state *b)
{
	return a->online == b->online && a->nid == b->nid && a->res == b->res && a->priv == b->priv &&
	       a->buddy == b->buddy && a->selfhosted == b->selfhosted && a->ref == b->ref && a->type == b->type &&
	       a->info == b->info && a->free == b->free && a->held == b->held;
}

static void print_state(const struct page_state *st)
{
	if (!st->online) {
		fputs(" gone", stdout);
		return;
	}
	printf(" nid=%d res=%d priv=%d buddy=%d selfhosted=%d ref=%d type=%llu info=%llu free=%s held=%s", st->nid, st->res,
	       st->priv, st->buddy, st->selfhosted, st->ref, (unsigned long long)st->type, (unsigned long long)st->info,
	       free_names[st->free], held_names[st->held]);
}

static int same_roles_shifted(unsigned long a, unsigned long a_end, unsigned long b, unsigned long b_end)
{
	if (a_end - a != b_end - b)
		return 0;
	for (unsigned long k = 0; k < a_end - a; k++)
		if (entries[a + k].role != entries[b + k].role || entries[a + k].owner != entries[b + k].owner)
			return 0;
	return 1;
}

/* Valid sections beyond MAX_SECTIONS, which the report leaves out (memory above 1 TiB): counted,
 * so the host rejects the report rather than judge without them. */
static unsigned long sections_beyond(void)
{
	unsigned long n = 0;
	const uint64_t per_root = PAGE_SIZE / K.ms_size;

	for (uint64_t nr = MAX_SECTIONS; nr < K.nr_mem_sections; nr++) {
		if (nr % per_root == 0 && !kread64(K.mem_section + (nr / per_root) * 8)) {
			nr += per_root - 1; /* a root never allocated: none of its sections exist */
			continue;
		}
		n += valid_section(mem_section_addr(nr)) ? 1 : 0;
	}
	return n;
}

static void print_overflow(void)
{
	if (dropped_entries)
		printf("overflow entries %lu\n", dropped_entries);
	if (dropped_pcp)
		printf("overflow pcp %lu\n", dropped_pcp);
}

static void snapshot(void)
{
	struct utsname u;
	unsigned long lines = 0;

	uname(&u);
	printf("rig-probe %d\n", PROBE_FORMAT);
	printf("probe kcore\n");
	printf("kernel %s\n", u.release);
	printf("encoding %s\n", K.encoding);
	if (strcmp(K.encoding, "none"))
		printf("types section=%ld mix=%ld node=%ld\n", K.types[0], K.types[1], K.types[2]);
	else
		printf("types section=0 mix=0 node=0\n");
	printf("struct_page %llu\n", (unsigned long long)K.page_size);
	printf("section_shift %d\n", SECTION_SIZE_BITS);
	printf("paging_levels %d\n", K.l5 ? 5 : 4);
	for (uint64_t nr = 0; nr < MAX_SECTIONS && nr < K.nr_mem_sections; nr++) {
		uint64_t ms = mem_section_addr(nr), first;

		if (!valid_section(ms))
			continue;
		first = pfn_to_online_page(nr << PFN_SECTION_SHIFT);
		printf("S %llu nid=%d early=%d online=%d\n", (unsigned long long)nr, first ? page_nid(first) : -1,
		       early_section(ms) ? 1 : 0, online_section(ms) ? 1 : 0);
	}
	for (int i = 0; i < topo.nr_possible; i++) {
		uint64_t pgdat = node_data(topo.possible[i]);
		int is_online = 0;

		if (!pgdat)
			continue;
		for (int j = 0; j < topo.nr_online; j++)
			is_online |= topo.online[j] == topo.possible[i];
		printf("N %d pgdat_pfn=%llu pgdat_bytes=%llu online=%d\n", topo.possible[i], (unsigned long long)virt_to_pfn(pgdat),
		       (unsigned long long)K.pgdat_size, is_online);
	}
	build_pcp_set();
	collect();
	for (unsigned long i = 0; i < nr_entries;) {
		unsigned long j = i, run_end, count = 1;
		struct page_state st, next;

		while (j < nr_entries && entries[j].pfn == entries[i].pfn)
			j++;
		read_state(entries[i].pfn, &st);
		run_end = j;
		while (run_end < nr_entries) {
			unsigned long k = run_end;

			while (k < nr_entries && entries[k].pfn == entries[run_end].pfn)
				k++;
			if (entries[run_end].pfn != entries[i].pfn + count)
				break;
			read_state(entries[run_end].pfn, &next);
			if (!same_state(&st, &next) || !same_roles_shifted(i, j, run_end, k))
				break;
			count++;
			run_end = k;
		}
		printf("P %llu %lu", (unsigned long long)entries[i].pfn, count);
		print_state(&st);
		fputs(" roles=", stdout);
		for (unsigned long k = i; k < j; k++)
			printf("%s%s:%ld", k > i ? "," : "", role_names[entries[k].role], entries[k].owner);
		putchar('\n');
		lines++;
		i = run_end;
	}
	print_overflow();
	if (sections_beyond())
		printf("overflow sections %lu\n", sections_beyond());
	printf("end %lu\n", lines);
}

/* ---- query ---- */

static int parse_pfn(const char *s, uint64_t *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return -1;
		*out = strtoull(s + 2, &end, 16);
	} else {
		if (!isdigit((unsigned char)s[0]))
			return -1;
		*out = strtoull(s, &end, 10);
	}
	return errno || *end ? -1 : 0;
}

static void query_fail(int err)
{
	fprintf(stderr, "rig-probe: query: %s\n", strerror(err));
	exit(err);
}

static void query(int argc, char **argv)
{
	struct pfn_range *r = xcalloc(MAX_QUERY_RANGES, sizeof(*r));
	unsigned long nr = 0, pfns = 0, lines = 0;
	uint64_t limit = 1ULL << (K.max_physmem_bits - PAGE_SHIFT);

	for (int a = 0; a < argc; a++) {
		char *save = NULL;

		for (char *tok = strtok_r(argv[a], " \t\n\r", &save); tok; tok = strtok_r(NULL, " \t\n\r", &save)) {
			char *dash = strchr(tok, '-');
			uint64_t first, last;

			if (strlen(tok) > MAX_TOKEN)
				query_fail(EINVAL);
			for (char *c = tok; *c; c++)
				if (!isalnum((unsigned char)*c) && *c != '-')
					query_fail(EINVAL);
			if (dash)
				*dash = '\0';
			if (parse_pfn(tok, &first) || (dash && parse_pfn(dash + 1, &last)))
				query_fail(EINVAL);
			if (!dash)
				last = first;
			if (last < first || last >= limit)
				query_fail(EINVAL);
			if (last - first + 1 > MAX_QUERY_PFNS || pfns + (last - first + 1) > MAX_QUERY_PFNS || nr >= MAX_QUERY_RANGES)
				query_fail(E2BIG);
			r[nr].start = first;
			r[nr].end = last;
			nr++;
			pfns += last - first + 1;
		}
	}
	build_pcp_set();
	printf("rig-probe-query %d\n", PROBE_FORMAT);
	for (unsigned long i = 0; i < nr; i++) {
		uint64_t first = r[i].start, last = r[i].end;

		for (uint64_t pfn = first;;) {
			struct page_state st, next;
			uint64_t count = 1;

			read_state(pfn, &st);
			while (pfn + count <= last) {
				read_state(pfn + count, &next);
				if (!same_state(&st, &next))
					break;
				count++;
			}
			printf("Q %llu %llu", (unsigned long long)pfn, (unsigned long long)count);
			print_state(&st);
			putchar('\n');
			lines++;
			if (last - pfn < count)
				break;
			pfn += count;
		}
	}
	print_overflow();
	printf("end %lu\n", lines);
}

/* ---- the module route: its debugfs files, the same answers ---- */

#define MODULE_DIR "/sys/kernel/debug/rig_probe"

static void module_snapshot(void)
{
	size_t len;
	char *s = read_whole(MODULE_DIR "/snapshot", &len), *nl;

	if (!s)
		die("reading " MODULE_DIR "/snapshot: %s", strerror(errno));
	nl = memchr(s, '\n', len);
	if (!nl)
		die("the module's snapshot has no header line");
	fwrite(s, 1, (size_t)(nl + 1 - s), stdout);
	fputs("probe module\n", stdout);
	fwrite(nl + 1, 1, len - (size_t)(nl + 1 - s), stdout);
}

static void module_query(int argc, char **argv)
{
	int fd = open(MODULE_DIR "/query", O_WRONLY | O_CLOEXEC);
	size_t len;
	char *s;

	if (fd < 0)
		die("opening " MODULE_DIR "/query: %s", strerror(errno));
	/* A write at position 0 starts a new query: without one, an empty query would be answered
	 * with the previous query's pfns. */
	if (argc == 0 && write(fd, "\n", 1) != 1)
		query_fail(errno);
	for (int a = 0; a < argc; a++) {
		size_t n = strlen(argv[a]);

		if (write(fd, argv[a], n) != (ssize_t)n || write(fd, "\n", 1) != 1)
			query_fail(errno);
	}
	close(fd);
	s = read_whole(MODULE_DIR "/query", &len);
	if (!s)
		query_fail(errno);
	fwrite(s, 1, len, stdout);
}

static const char *route(void)
{
	size_t len;
	char *cmdline = read_whole("/proc/cmdline", &len);
	const char *env = getenv("RIG_PROBE_ROUTE");
	struct stat st;

	if (env && (!strcmp(env, "kcore") || !strcmp(env, "module")))
		return env;
	if (cmdline && strstr(cmdline, "rig.probe=kcore"))
		return "kcore";
	if (cmdline && strstr(cmdline, "rig.probe=module"))
		return "module";
	return stat(MODULE_DIR "/snapshot", &st) == 0 ? "module" : "kcore";
}

/* rig-probe layout BTF_FILE: what this probe reads from a kernel's BTF (for people and tests). */
static void print_layout(void)
{
	printf("struct_page %llu flags@%ld _refcount@%ld private@%ld index@%ld compound_head@%ld page_type@%ld pcp_list@%ld\n",
	       (unsigned long long)K.page_size, K.pg_flags, K.pg_refcount, K.pg_private, K.pg_index, K.pg_compound_head,
	       K.pg_page_type, K.pg_pcp_list);
	printf("mem_section %llu usage@%llu subsection_map@%ld\n", (unsigned long long)K.ms_size,
	       (unsigned long long)K.ms_usage, K.usage_subsection_map);
	printf("zone %llu per_cpu_pageset@%ld present_pages@%ld orders %u; pglist_data %llu node_zones@%ld\n",
	       (unsigned long long)K.zone_size, K.zone_per_cpu_pageset, K.zone_present_pages, K.nr_orders,
	       (unsigned long long)K.pgdat_size, K.pgdat_node_zones);
	printf("per_cpu_pages lists@%ld x%u (low-order %u); zones %u (%u bits); nodes_shift %u\n", K.pcp_lists,
	       K.nr_pcp_lists, K.low_pcp_lists, K.max_nr_zones, K.zones_width, K.nodes_shift);
	printf("flags reserved=%d private=%d lru=%d owner_priv_1=%d head=%d slab=%d\n", K.bit_reserved, K.bit_private,
	       K.bit_lru, K.bit_owner_priv_1, K.bit_head, K.bit_slab);
	printf("page types %s base=0x%x buddy=0x%x table=0x%x slab=0x%x\n", K.pgty ? "pgty" : "inverted", K.type_base,
	       K.type_buddy, K.type_table, K.type_slab);
	printf("bootmem_type enum %s\n", btf_find_enum("bootmem_type") ? "named" : "absent");
}

/*
 * rig-probe frees setup | start [LO-HI] | stop: the page frees of a step, from the kernel's own
 * trace event kmem:mm_page_free (every free of a page goes through free_pages_prepare(), which
 * emits it with the pfn and order), which the rig enables and sizes on the kernel command line
 * (trace_event=kmem:mm_page_free trace_buf_size=4M): "setup" turns recording off; "start" clears
 * the buffer and turns recording on, filtering out the pfns LO..HI (the memory about to go:
 * migration frees its pages by the thousand, and none of them is a page the rig expects freed);
 * "stop" turns recording off and prints (docs/probe-format.md):
 *   rig-frees 1
 *   tracing on | tracing absent REASON
 *   events N
 *   lost N            (events the ring buffer overwrote: the list below is then incomplete)
 *   freed FIRST-LAST  (pfns, merged and in order)
 *   end
 */
static const char *tracefs;

static int write_str(const char *dir, const char *file, const char *text)
{
	char path[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static const char *find_tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[512];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/kmem/mm_page_free/enable", dirs[i]);
		if (access(path, W_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

/* Whether kmem:mm_page_free is enabled (by trace_event= at boot). mm_page_free alone:
 * free_unref_page_list() and free_unref_folios() emit it too (through free_pages_prepare())
 * before their mm_page_free_batched. */
static int event_enabled(void)
{
	char path[512], c = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/events/kmem/mm_page_free/enable", tracefs);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1';
}

struct freed { uint64_t first, last; };

static int cmp_freed(const void *a, const void *b)
{
	const struct freed *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int frees(int argc, char **argv)
{
	char text[128];
	size_t len;
	char *cur;

	tracefs = find_tracefs();
	if (argc == 1 && !strcmp(argv[0], "setup")) {
		/* The event is enabled on the kernel command line (trace_event=kmem:mm_page_free), never
		 * here: enabling a tracepoint patches kernel text (text_poke_bp), which a live TCG guest
		 * did not survive reliably. Recording stays off between steps. */
		if (tracefs && !event_enabled())
			tracefs = NULL;
		if (tracefs)
			write_str(tracefs, "tracing_on", "0");
		printf("tracing %s\n", tracefs ? "on" :
		       "absent: kmem:mm_page_free not enabled at boot (trace_event=kmem:mm_page_free)");
		return 0;
	}
	if (argc >= 1 && !strcmp(argv[0], "start") && argc <= 2) {
		unsigned long long lo = 0, hi = 0;
		char extra;

		if (argc == 2 && (sscanf(argv[1], "%llu-%llu%c", &lo, &hi, &extra) != 2 || lo > hi)) {
			fprintf(stderr, "rig-probe: frees start: not a pfn range: %s\n", argv[1]);
			return 22;
		}
		if (!tracefs) {
			puts("tracing absent: no kmem:mm_page_free event in tracefs");
			return 0;
		}
		if (!event_enabled()) {
			puts("tracing absent: kmem:mm_page_free not enabled at boot (trace_event=kmem:mm_page_free)");
			return 0;
		}
		write_str(tracefs, "tracing_on", "0");
		if (argc == 2)
			snprintf(text, sizeof(text), "pfn < %llu || pfn > %llu", lo, hi);
		else
			snprintf(text, sizeof(text), "0"); /* "0" clears a filter */
		if (write_str(tracefs, "events/kmem/mm_page_free/filter", text))
			die("cannot set the trace filter: %s", strerror(errno));
		if (write_str(tracefs, "trace", ""))
			die("cannot clear the trace buffer: %s", strerror(errno));
		if (write_str(tracefs, "tracing_on", "1"))
			die("cannot turn tracing on: %s", strerror(errno));
		puts("tracing on");
		return 0;
	}
	if (argc != 1 || strcmp(argv[0], "stop")) {
		fprintf(stderr, "usage: rig-probe frees setup | start [LO-HI] | stop\n");
		return 1;
	}
	puts("rig-frees 1");
	if (!tracefs) {
		puts("tracing absent: no kmem:mm_page_free event in tracefs");
		puts("end");
		return fflush(stdout) ? 1 : 0;
	}
	write_str(tracefs, "tracing_on", "0");
	{
		char path[512];
		char *trace;
		size_t n = 0, cap = 1 << 12;
		struct freed *f = xcalloc(cap, sizeof(*f));
		unsigned long long in_buffer = 0, written = 0, events = 0;
		int counted = 0;

		snprintf(path, sizeof(path), "%s/trace", tracefs);
		trace = read_whole(path, &len);
		if (!trace)
			die("cannot read %s: %s", path, strerror(errno));
		for (cur = trace; cur && *cur; ) {
			char *nl = strchr(cur, '\n');
			const char *pfn, *order;

			if (nl)
				*nl = 0;
			if (*cur == '#') {
				const char *e = strstr(cur, "entries-in-buffer/entries-written:");

				if (e && sscanf(e + strlen("entries-in-buffer/entries-written:"), "%llu/%llu", &in_buffer,
						&written) == 2)
					counted = 1;
			} else if (strstr(cur, " mm_page_free: ")) {
				pfn = strstr(cur, " pfn=0x");
				order = strstr(cur, " order=");
				if (!pfn || !order)
					die("a mm_page_free event without pfn=0x or order=: %.200s", cur);
				uint64_t first = strtoull(pfn + 7, NULL, 16);
				unsigned long o = strtoul(order + 7, NULL, 10);

				if (o > 20)
					die("a free of order %lu in the trace: %s", o, cur);
				if (n == cap) {
					cap *= 2;
					f = realloc(f, cap * sizeof(*f));
					if (!f)
						die("out of memory");
				}
				f[n].first = first;
				f[n].last = first + (1UL << o) - 1;
				n++;
				events++;
			}
			cur = nl ? nl + 1 : NULL;
		}
		free(trace);
		if (!counted)
			die("the trace has no entries-in-buffer/entries-written header: cannot tell what was lost");
		write_str(tracefs, "trace", "");
		qsort(f, n, sizeof(*f), cmp_freed);
		puts("tracing on");
		printf("events %llu\n", events);
		printf("lost %llu\n", written > in_buffer ? written - in_buffer : 0);
		for (size_t i = 0; i < n;) {
			uint64_t first = f[i].first, last = f[i].last;

			for (i++; i < n && f[i].first <= last + 1; i++)
				if (f[i].last > last)
					last = f[i].last;
			printf("freed %llu-%llu\n", (unsigned long long)first, (unsigned long long)last);
		}
		free(f);
	}
	puts("end");
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "layout")) {
		btf_load(argv[2]);
		learn_layout();
		print_layout();
		return 0;
	}
	const char *how;

	if (argc >= 2 && !strcmp(argv[1], "frees"))
		return frees(argc - 2, argv + 2);
	if (argc < 2 || (strcmp(argv[1], "snapshot") && strcmp(argv[1], "query") && strcmp(argv[1], "route"))) {
		fprintf(stderr, "usage: rig-probe snapshot | query PFN[-PFN]... | route | frees setup|start [LO-HI]|stop | layout BTF_FILE\n");
		return 1;
	}
	how = route();
	if (!strcmp(argv[1], "route")) {
		puts(how);
		return 0;
	}
	if (!strcmp(how, "module")) {
		if (!strcmp(argv[1], "snapshot"))
			module_snapshot();
		else
			module_query(argc - 2, argv + 2);
		return fflush(stdout) ? 1 : 0;
	}
	/* Everything allocated and touched before the walk, and kept: the probe's own page faults
	 * would otherwise take pages from the per-cpu lists it reads. */
	read_topology();
	cache = xcalloc(CACHE_SLOTS, sizeof(*cache));
	entries = xcalloc(MAX_ENTRIES, sizeof(*entries));
	pcp_cap = 1 << 16;
	pcp = xcalloc(pcp_cap, sizeof(*pcp));
	memset(cache, 0, CACHE_SLOTS * sizeof(*cache));
	memset(entries, 0, MAX_ENTRIES * sizeof(*entries));
	memset(pcp, 0, pcp_cap * sizeof(*pcp));
	mlockall(MCL_CURRENT | MCL_FUTURE);
	btf_load("/sys/kernel/btf/vmlinux");
	kallsyms = read_whole("/proc/kallsyms", &kallsyms_len);
	if (!kallsyms)
		die("cannot read /proc/kallsyms: %s", strerror(errno));
	kcore_open();
	learn_layout();
	learn_memory();
	if (!strcmp(argv[1], "snapshot"))
		snapshot();
	else
		query(argc - 2, argv + 2);
	return fflush(stdout) ? 1 : 0;
}
