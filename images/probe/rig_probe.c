// SPDX-License-Identifier: GPL-2.0
/*
 * rig_probe: reports, for the rig's host side, where every memory section's memmap lives and the
 * state of every page that carries bootmem info (memmap backing pages, vmemmap page-table pages,
 * section usage pages, pgdat pages), where each such page is as far as the page allocator is
 * concerned (free in a buddy block, on a per-cpu list, or held by slab/LRU/page tables), and
 * answers later queries about the same pfns.
 *
 * debugfs:
 *   rig_probe/snapshot  read: the full report (format "rig-probe 2", see docs/probe-format.md)
 *   rig_probe/query     write "PFN[-PFN] ..." (decimal, or hex with 0x), then read those pfns now.
 *
 * It never touches the memmap of a section that is not online (pfn_to_online_page()). It takes
 * no hotplug lock: none of lock_device_hotplug(), mem_hotplug_begin() or get_online_mems() is
 * exported to modules (6.1, 6.12), so the rig reads it only between hotplug operations.
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/memory_hotplug.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/utsname.h>
#include <linux/sched.h>
#include <linux/vmalloc.h>
#include <linux/spinlock.h>
#include <linux/percpu.h>
#include <linux/cpumask.h>
#include <linux/nodemask.h>
#include <linux/page-flags.h>
#include <linux/pageblock-flags.h>
#include <linux/huge_mm.h>
#include <linux/ctype.h>
#include <asm/pgtable.h>
/* 7.3 removed bootmem info and its header with it. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0) && __has_include(<linux/bootmem_info.h>)
#include <linux/bootmem_info.h>
#endif

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rig: bootmem info and memmap placement probe");

static unsigned long max_sections = 8192; /* 1 TiB of physical address space */
module_param(max_sections, ulong, 0444);

#define PROBE_FORMAT 2
#define MAX_ENTRIES (1UL << 18)
/* Query limits: pfns in one query (16 GiB of 4 KiB pages), ranges in one query, token length. */
#define MAX_QUERY_PFNS (1UL << 22)
#define MAX_QUERY_RANGES (1UL << 16)
#define MAX_TOKEN 64
#define RESCHED_EVERY 1024

/* Orders of the buddy allocator: 6.1 MAX_ORDER is exclusive (11), 6.4+ MAX_ORDER is inclusive,
 * 6.8+ calls it MAX_PAGE_ORDER (inclusive, 10). */
#if defined(MAX_PAGE_ORDER)
#define PROBE_NR_ORDERS (MAX_PAGE_ORDER + 1)
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define PROBE_NR_ORDERS (MAX_ORDER + 1)
#else
#define PROBE_NR_ORDERS MAX_ORDER
#endif

/* dmap_*: the direct map's page tables over a section. Not bootmem-tagged, but freed on removal
 * when they empty, so they belong in the page accounting. p4d: the vmemmap P4D table page under
 * 5-level paging. */
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
	unsigned long pfn;
	unsigned int role;
	long owner; /* section number, or node id for pgdat */
};

static struct entry *entries;
static unsigned long nr_entries;
static unsigned long dropped_entries;
static DEFINE_MUTEX(probe_lock);

/* The pfns on per-cpu free lists, as sorted [start, end) ranges, built once per read. */
struct pfn_range {
	unsigned long start, end;
};
static struct pfn_range *pcp_ranges;
static unsigned long nr_pcp_ranges, pcp_capacity, dropped_pcp;

/* The query being written: ranges parsed so far, the unfinished last token, the error if any. */
static struct {
	struct pfn_range *ranges; /* [first, last] inclusive here */
	unsigned long nr, cap;
	unsigned long pfns;
	loff_t written;
	char pending[MAX_TOKEN + 1];
	unsigned int pending_len;
	int error;
} q;

static const char *encoding_name(void)
{
#if !IS_ENABLED(CONFIG_HAVE_BOOTMEM_INFO_NODE)
	return "none";
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
	return "private-packed";
#else
	return "index-private";
#endif
}

static void page_tag(struct page *page, unsigned long *type, unsigned long *info)
{
	*type = 0;
	*info = 0;
#if !IS_ENABLED(CONFIG_HAVE_BOOTMEM_INFO_NODE)
	return;
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
	/* bootmem_type() reads page->private whatever the flags say; 6.14 to 6.18 also set
	 * PG_private, 7.2 does not. Bootmem pages are Reserved until put_page_bootmem() frees them. */
	if (PagePrivate(page) || PageReserved(page)) {
		*type = page_private(page) & 0xf;
		*info = page_private(page) >> 4;
	}
#else
	*type = page->index;
	*info = PagePrivate(page) ? page_private(page) : 0;
#endif
}

static void add(unsigned long pfn, unsigned int role, long owner)
{
	if (nr_entries >= MAX_ENTRIES) {
		dropped_entries++; /* reported as "overflow entries N": never a silent truncation */
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

/* ---- per-cpu free lists ---- */

/* The order of the blocks on pcp list `pindex`, as the kernel's pindex_to_order() computes it. */
static int probe_pindex_to_order(unsigned int pindex)
{
	int order = pindex / MIGRATE_PCPTYPES;

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (pindex >= NR_LOWORDER_PCP_LISTS)
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
		order = HPAGE_PMD_ORDER;
#else
		order = pageblock_order;
#endif
#endif
	return order;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pfn_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Walks every online cpu's pcp lists of every populated zone, one pcp->lock at a time (never
 * together with zone->lock: the kernel nests zone->lock inside pcp->lock). Returns false when the
 * array was too small (the caller grows it and retries). */
static bool walk_pcp(void)
{
	int nid, cpu;

	nr_pcp_ranges = 0;
	dropped_pcp = 0;
	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);
		int z;

		if (!pgdat)
			continue;
		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (!populated_zone(zone) || !zone->per_cpu_pageset)
				continue;
			for_each_online_cpu(cpu) {
				struct per_cpu_pages *pcp = per_cpu_ptr(zone->per_cpu_pageset, cpu);
				unsigned long flags;
				unsigned int pindex;

				spin_lock_irqsave(&pcp->lock, flags);
				for (pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
					unsigned long nr_pages = 1UL << probe_pindex_to_order(pindex);
					struct page *page;

					list_for_each_entry(page, &pcp->lists[pindex], pcp_list) {
						if (nr_pcp_ranges >= pcp_capacity) {
							dropped_pcp++;
							continue;
						}
						pcp_ranges[nr_pcp_ranges].start = page_to_pfn(page);
						pcp_ranges[nr_pcp_ranges].end = page_to_pfn(page) + nr_pages;
						nr_pcp_ranges++;
					}
				}
				spin_unlock_irqrestore(&pcp->lock, flags);
			}
			cond_resched();
		}
	}
	return dropped_pcp == 0;
}

/* Builds the pcp pfn set once per read. On failure to fit after growing, dropped_pcp says how many
 * blocks are missing and the read reports "overflow pcp N". */
static int build_pcp_set(void)
{
	int attempt;

	for (attempt = 0;; attempt++) {
		if (walk_pcp() || attempt == 3)
			break;
		kvfree(pcp_ranges);
		pcp_capacity = max(pcp_capacity * 2, (nr_pcp_ranges + dropped_pcp) * 2);
		pcp_ranges = kvmalloc_array(pcp_capacity, sizeof(*pcp_ranges), GFP_KERNEL);
		if (!pcp_ranges) {
			pcp_capacity = 0;
			nr_pcp_ranges = 0;
			return -ENOMEM;
		}
	}
	sort(pcp_ranges, nr_pcp_ranges, sizeof(*pcp_ranges), cmp_range, NULL);
	return 0;
}

static bool on_pcp(unsigned long pfn)
{
	unsigned long lo = 0, hi = nr_pcp_ranges;

	/* The last range starting at or below pfn (ranges do not overlap: a block is on one list). */
	while (lo < hi) {
		unsigned long mid = lo + (hi - lo) / 2;

		if (pcp_ranges[mid].start <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && pfn < pcp_ranges[lo - 1].end;
}

/* A free buddy block covers pfn: for some order o, the o-aligned head is PageBuddy with an order
 * (page_private) of at least o. Checked under the zone's lock. */
static bool in_free_block(unsigned long pfn, struct page *page)
{
	struct zone *zone = page_zone(page);
	unsigned long flags;
	bool found = false;
	int o;

	spin_lock_irqsave(&zone->lock, flags);
	for (o = 0; o < PROBE_NR_ORDERS && !found; o++) {
		unsigned long head_pfn = pfn & ~((1UL << o) - 1);
		struct page *head = pfn_to_online_page(head_pfn);

		if (!head || page_zone(head) != zone)
			break;
		if (PageBuddy(head) && page_private(head) >= o)
			found = true;
	}
	spin_unlock_irqrestore(&zone->lock, flags);
	return found;
}

/* ---- what is reported ---- */

/* The page-table pages above a kernel virtual address, walked from the current mm (which shares
 * the kernel half; init_mm is not exported). p4d_role < 0: do not report the P4D table. */
static void add_table_pages(unsigned long va, long section, int p4d_role, unsigned int pud_role, unsigned int pmd_role)
{
	pgd_t *pgd = pgd_offset(current->active_mm, va);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(*pgd))
		return;
	p4d = p4d_offset(pgd, va);
	/* Under 5-level paging the pgd entry points to a real P4D table; otherwise p4d is the pgd. */
	if (p4d_role >= 0 && pgtable_l5_enabled())
		add(page_to_pfn(virt_to_page(p4d)), p4d_role, section);
	if (p4d_none(*p4d))
		return;
	pud = pud_offset(p4d, va);
	add(page_to_pfn(virt_to_page(pud)), pud_role, section);
	if (pud_none(*pud) || pud_leaf(*pud))
		return;
	add(page_to_pfn(virt_to_page(pmd_offset(pud, va))), pmd_role, section);
}

static void collect_section(unsigned long nr)
{
	struct mem_section *ms = __nr_to_section(nr);
	unsigned long start, end, va;
	unsigned int level;

	start = (unsigned long)pfn_to_page(section_nr_to_pfn(nr));
	end = start + PAGES_PER_SECTION * sizeof(struct page);
	add_table_pages(start, nr, ROLE_P4D, ROLE_PUD, ROLE_PMD);
	/* The direct map covers memory from when it is added (arch_add_memory), online or not. */
	add_table_pages((unsigned long)__va(PFN_PHYS(section_nr_to_pfn(nr))), nr, -1, ROLE_DMAP_PUD, ROLE_DMAP_PMD);
	/* Where the direct map is not PMD-mapped (no PSE, debug_pagealloc): the PTE table of each
	 * 2 MiB of the section, which remove_pte_table() frees when it empties. */
	for (va = (unsigned long)__va(PFN_PHYS(section_nr_to_pfn(nr)));
	     va < (unsigned long)__va(PFN_PHYS(section_nr_to_pfn(nr) + PAGES_PER_SECTION)); va += PMD_SIZE) {
		pte_t *pte = lookup_address(va, &level);

		if (pte && level == PG_LEVEL_4K)
			add(page_to_pfn(virt_to_page(pte)), ROLE_DMAP_PTE, nr);
	}
	for (va = start & PAGE_MASK; va < end; va += PAGE_SIZE) {
		pte_t *pte = lookup_address(va, &level);
		unsigned long pfn;

		if (!pte)
			continue;
		if (level == PG_LEVEL_2M) {
			pfn = pmd_pfn(*(pmd_t *)pte) + ((va & ~PMD_MASK) >> PAGE_SHIFT);
		} else if (level == PG_LEVEL_4K) {
			if (!pte_present(*pte))
				continue;
			pfn = pte_pfn(*pte);
			add(page_to_pfn(virt_to_page(pte)), ROLE_PTE, nr);
		} else {
			continue;
		}
		add(pfn, ROLE_MEMMAP, nr);
	}
	if (ms->usage && virt_addr_valid(ms->usage))
		add(page_to_pfn(virt_to_page(ms->usage)), ROLE_USAGE, nr);
}

static void collect(void)
{
	unsigned long nr;
	int nid;

	nr_entries = 0;
	dropped_entries = 0;
	for (nr = 0; nr < max_sections && nr < NR_MEM_SECTIONS; nr++) {
		struct mem_section *ms = __nr_to_section(nr);

		if (ms && valid_section(ms))
			collect_section(nr);
		if (nr % 64 == 63)
			cond_resched();
	}
	for_each_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);
		unsigned long a;

		if (!pgdat)
			continue;
		for (a = (unsigned long)pgdat & PAGE_MASK; a < (unsigned long)pgdat + sizeof(*pgdat); a += PAGE_SIZE)
			add(page_to_pfn(virt_to_page((void *)a)), ROLE_PGDAT, nid);
	}
	sort(entries, nr_entries, sizeof(*entries), cmp_entry, NULL);
}

enum free_kind { FREE_NO, FREE_BUDDY, FREE_PCP };
static const char *const free_names[] = { "no", "buddy", "pcp" };
enum held_kind { HELD_NONE, HELD_SLAB, HELD_LRU, HELD_PGTABLE, HELD_OTHER };
static const char *const held_names[] = { "none", "slab", "lru", "pgtable", "other" };

struct page_state {
	int online;
	int nid;
	int res, priv, buddy, selfhosted;
	int ref;
	unsigned long type, info;
	int free, held;
};

/* page->flags is a memdesc_flags_t since 6.18. */
static unsigned long *probe_flags_word(struct page *page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
	return &page->flags.f;
#else
	return &page->flags;
#endif
}

static void read_state(unsigned long pfn, struct page_state *st)
{
	struct page *page = pfn_to_online_page(pfn);
	struct page *head;

	memset(st, 0, sizeof(*st));
	if (!page)
		return;
	st->online = 1;
	st->nid = page_to_nid(page);
	st->res = PageReserved(page);
	st->priv = PagePrivate(page);
	st->buddy = PageBuddy(page);
	st->selfhosted = test_bit(PG_owner_priv_1, probe_flags_word(page));
	st->ref = page_ref_count(page);
	page_tag(page, &st->type, &st->info);

	/* The per-cpu set was taken when the read began: a page allocated since is not free. */
	if (on_pcp(pfn) && page_ref_count(page) == 0 && !PageSlab(compound_head(page)) && !PageLRU(compound_head(page)))
		st->free = FREE_PCP;
	else if (in_free_block(pfn, page))
		st->free = FREE_BUDDY;
	else
		st->free = FREE_NO;
	/* What holds an allocated page; a compound tail is judged by its head. */
	head = compound_head(page);
	if (st->free != FREE_NO)
		st->held = HELD_NONE;
	else if (PageSlab(head))
		st->held = HELD_SLAB;
	else if (PageLRU(head))
		st->held = HELD_LRU;
	else if (PageTable(head))
		st->held = HELD_PGTABLE;
	else if (page_ref_count(head) == 0)
		st->held = HELD_NONE;
	else
		st->held = HELD_OTHER;
}

static bool same_state(const struct page_state *a, const struct page_state *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void print_state(struct seq_file *m, const struct page_state *st)
{
	if (!st->online) {
		seq_puts(m, " gone");
		return;
	}
	seq_printf(m, " nid=%d res=%d priv=%d buddy=%d selfhosted=%d ref=%d type=%lu info=%lu free=%s held=%s", st->nid,
		   st->res, st->priv, st->buddy, st->selfhosted, st->ref, st->type, st->info, free_names[st->free],
		   held_names[st->held]);
}

/* Roles of the entries [i, j) that share one pfn, as "memmap:32,pmd:32,..." */
static void print_roles(struct seq_file *m, unsigned long i, unsigned long j)
{
	unsigned long k;

	seq_puts(m, " roles=");
	for (k = i; k < j; k++)
		seq_printf(m, "%s%s:%ld", k > i ? "," : "", role_names[entries[k].role], entries[k].owner);
}

static bool same_roles_shifted(unsigned long a, unsigned long a_end, unsigned long b, unsigned long b_end)
{
	unsigned long k;

	if (a_end - a != b_end - b)
		return false;
	for (k = 0; k < a_end - a; k++)
		if (entries[a + k].role != entries[b + k].role || entries[a + k].owner != entries[b + k].owner)
			return false;
	return true;
}

static void print_overflow(struct seq_file *m)
{
	if (dropped_entries)
		seq_printf(m, "overflow entries %lu\n", dropped_entries);
	if (dropped_pcp)
		seq_printf(m, "overflow pcp %lu\n", dropped_pcp);
}

/* seq_file calls this again with a doubled buffer when the output does not fit (single_open_size
 * is only the first size), so a read returns all of it or fails (-ENOMEM): never a short read.
 * The trailing "end N" line lets the host detect any truncation anyway. */
static int snapshot_show(struct seq_file *m, void *v)
{
	unsigned long nr, i, lines = 0, steps = 0;
	int nid, err;

	mutex_lock(&probe_lock);
	seq_printf(m, "rig-probe %d\n", PROBE_FORMAT);
	seq_printf(m, "kernel %s\n", utsname()->release);
	seq_printf(m, "encoding %s\n", encoding_name());
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0) && IS_ENABLED(CONFIG_HAVE_BOOTMEM_INFO_NODE)
	seq_printf(m, "types section=%d mix=%d node=%d\n", SECTION_INFO, MIX_SECTION_INFO, NODE_INFO);
#else
	seq_puts(m, "types section=0 mix=0 node=0\n");
#endif
	seq_printf(m, "struct_page %zu\n", sizeof(struct page));
	seq_printf(m, "section_shift %d\n", SECTION_SIZE_BITS);
	seq_printf(m, "paging_levels %d\n", pgtable_l5_enabled() ? 5 : 4);
	for (nr = 0; nr < max_sections && nr < NR_MEM_SECTIONS; nr++) {
		struct mem_section *ms = __nr_to_section(nr);
		struct page *first;

		if (nr % 256 == 255)
			cond_resched();
		if (!ms || !valid_section(ms))
			continue;
		first = pfn_to_online_page(section_nr_to_pfn(nr));
		seq_printf(m, "S %lu nid=%d early=%d online=%d\n", nr, first ? page_to_nid(first) : -1,
			   early_section(ms) ? 1 : 0, online_section(ms) ? 1 : 0);
	}
	for_each_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		if (!pgdat)
			continue;
		seq_printf(m, "N %d pgdat_pfn=%lu pgdat_bytes=%zu online=%d\n", nid,
			   page_to_pfn(virt_to_page(pgdat)), sizeof(*pgdat), node_online(nid) ? 1 : 0);
	}

	err = build_pcp_set();
	if (err)
		goto out;
	collect();
	/* One line per run of consecutive pfns with the same state and the same roles. */
	for (i = 0; i < nr_entries;) {
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
			if (++steps % RESCHED_EVERY == 0)
				cond_resched();
			if (!same_state(&st, &next) || !same_roles_shifted(i, j, run_end, k))
				break;
			count++;
			run_end = k;
		}
		seq_printf(m, "P %lu %lu", entries[i].pfn, count);
		print_state(m, &st);
		print_roles(m, i, j);
		seq_putc(m, '\n');
		lines++;
		i = run_end;
	}
	print_overflow(m);
	/* Valid sections beyond max_sections are left out: counted, so the host rejects the report. */
	for (nr = max_sections, i = 0; nr < NR_MEM_SECTIONS; nr++) {
		struct mem_section *ms = __nr_to_section(nr);

		if (ms && valid_section(ms))
			i++;
		if (nr % 65536 == 65535)
			cond_resched();
	}
	if (i)
		seq_printf(m, "overflow sections %lu\n", i);
	seq_printf(m, "end %lu\n", lines);
out:
	mutex_unlock(&probe_lock);
	return err;
}

static int snapshot_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, snapshot_show, NULL, 1 << 20);
}

static const struct file_operations snapshot_fops = {
	.owner = THIS_MODULE,
	.open = snapshot_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/* ---- query ---- */

static void query_reset(void)
{
	kvfree(q.ranges);
	memset(&q, 0, sizeof(q));
}

/* One token, "PFN" or "FIRST-LAST", decimal or 0x-hex. */
static int parse_pfn(const char *s, unsigned long *out)
{
	if (!*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return kstrtoul(s + 2, 16, out) ? -EINVAL : 0;
	if (!isdigit(s[0]))
		return -EINVAL;
	return kstrtoul(s, 10, out) ? -EINVAL : 0;
}

static int query_add_token(char *tok)
{
	unsigned long first, last, limit = 1UL << (MAX_PHYSMEM_BITS - PAGE_SHIFT);
	char *dash = strchr(tok, '-');

	if (dash)
		*dash = '\0';
	if (parse_pfn(tok, &first))
		return -EINVAL;
	if (!dash)
		last = first;
	else if (parse_pfn(dash + 1, &last))
		return -EINVAL;
	if (last < first || last >= limit)
		return -EINVAL;
	if (last - first + 1 > MAX_QUERY_PFNS || q.pfns + (last - first + 1) > MAX_QUERY_PFNS || q.nr >= MAX_QUERY_RANGES)
		return -E2BIG;
	if (q.nr == q.cap) {
		unsigned long cap = q.cap ? q.cap * 2 : 256;
		struct pfn_range *n = kvmalloc_array(cap, sizeof(*n), GFP_KERNEL);

		if (!n)
			return -ENOMEM;
		if (q.nr)
			memcpy(n, q.ranges, q.nr * sizeof(*n));
		kvfree(q.ranges);
		q.ranges = n;
		q.cap = cap;
	}
	q.ranges[q.nr].start = first;
	q.ranges[q.nr].end = last;
	q.nr++;
	q.pfns += last - first + 1;
	return 0;
}

static int query_finish_token(void)
{
	int err;

	if (!q.pending_len)
		return 0;
	q.pending[q.pending_len] = '\0';
	err = query_add_token(q.pending);
	q.pending_len = 0;
	return err;
}

/* The query arrives in one write or several: a write at position 0 starts a new query, a write at
 * the end of what was written appends (a token may be split between writes). A malformed token,
 * LAST < FIRST, or more than MAX_QUERY_PFNS pfns fails the write (-EINVAL, -E2BIG) and makes
 * reads fail with the same error until a new query starts at position 0. */
static ssize_t query_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	char chunk[128];
	size_t done = 0;
	int err = 0;

	mutex_lock(&probe_lock);
	if (*ppos == 0) {
		query_reset();
	} else if (q.error) {
		err = q.error;
		goto out;
	} else if (*ppos != q.written) {
		err = -EINVAL; /* not a continuation of the current query */
		goto out;
	}
	while (done < len) {
		size_t n = min(len - done, sizeof(chunk)), i;

		if (copy_from_user(chunk, buf + done, n)) {
			err = -EFAULT;
			goto fail;
		}
		for (i = 0; i < n; i++) {
			char c = chunk[i];

			if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
				err = query_finish_token();
				if (err)
					goto fail;
			} else if (!isalnum(c) && c != '-') {
				err = -EINVAL;
				goto fail;
			} else if (q.pending_len >= MAX_TOKEN) {
				err = -EINVAL;
				goto fail;
			} else {
				q.pending[q.pending_len++] = c;
			}
		}
		done += n;
		if (done < len)
			cond_resched();
	}
	q.written += len;
	*ppos += len;
	mutex_unlock(&probe_lock);
	return len;
fail:
	q.error = err;
out:
	mutex_unlock(&probe_lock);
	return err;
}

static int query_show(struct seq_file *m, void *v)
{
	unsigned long r, lines = 0, steps = 0;
	int err;

	mutex_lock(&probe_lock);
	err = q.error ? q.error : query_finish_token();
	if (err) {
		q.error = err;
		goto out;
	}
	err = build_pcp_set();
	if (err)
		goto out;
	seq_printf(m, "rig-probe-query %d\n", PROBE_FORMAT);
	for (r = 0; r < q.nr; r++) {
		unsigned long first = q.ranges[r].start, last = q.ranges[r].end, pfn;

		for (pfn = first;;) {
			struct page_state st, next;
			unsigned long count = 1;

			read_state(pfn, &st);
			while (pfn + count <= last) {
				read_state(pfn + count, &next);
				if (++steps % RESCHED_EVERY == 0)
					cond_resched();
				if (!same_state(&st, &next))
					break;
				count++;
			}
			seq_printf(m, "Q %lu %lu", pfn, count);
			print_state(m, &st);
			seq_putc(m, '\n');
			lines++;
			if (last - pfn < count) /* pfn + count > last, without overflow */
				break;
			pfn += count;
		}
	}
	print_overflow(m);
	seq_printf(m, "end %lu\n", lines);
out:
	mutex_unlock(&probe_lock);
	return err;
}

static int query_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, query_show, NULL, 1 << 18);
}

static const struct file_operations query_fops = {
	.owner = THIS_MODULE,
	.open = query_open,
	.read = seq_read,
	.write = query_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static struct dentry *dir;

static int __init rig_probe_init(void)
{
	entries = kvmalloc_array(MAX_ENTRIES, sizeof(*entries), GFP_KERNEL);
	if (!entries)
		return -ENOMEM;
	pcp_capacity = 1UL << 14;
	pcp_ranges = kvmalloc_array(pcp_capacity, sizeof(*pcp_ranges), GFP_KERNEL);
	if (!pcp_ranges) {
		kvfree(entries);
		return -ENOMEM;
	}
	dir = debugfs_create_dir("rig_probe", NULL);
	debugfs_create_file("snapshot", 0400, dir, NULL, &snapshot_fops);
	debugfs_create_file("query", 0600, dir, NULL, &query_fops);
	return 0;
}

static void __exit rig_probe_exit(void)
{
	debugfs_remove_recursive(dir);
	kvfree(entries);
	kvfree(pcp_ranges);
	query_reset();
}

module_init(rig_probe_init);
module_exit(rig_probe_exit);
