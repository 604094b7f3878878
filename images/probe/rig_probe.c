// SPDX-License-Identifier: GPL-2.0
/*
 * rig_probe: reports, for the rig's host side, where every memory section's memmap lives and the
 * state of every page that carries bootmem info (memmap backing pages, vmemmap page-table pages,
 * section usage pages, pgdat pages), and answers later queries about the same pfns.
 *
 * debugfs:
 *   rig_probe/snapshot  read: the full report (format "rig-probe 1", see docs/probe-format.md)
 *   rig_probe/query     write "PFN[-PFN] ..." (decimal, or hex with 0x), then read those pfns now.
 *
 * It never touches the memmap of a section that is not online (pfn_to_online_page()), and takes
 * no hotplug lock (not exported): the rig reads it only between hotplug operations.
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
#include <asm/pgtable.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0)
#include <linux/bootmem_info.h>
#endif

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rig: bootmem info and memmap placement probe");

static unsigned long max_sections = 8192; /* 1 TiB of physical address space */
module_param(max_sections, ulong, 0444);

#define PROBE_FORMAT 1
#define MAX_ENTRIES (1UL << 18)

/* dmap_*: the direct map's page tables over a section. Not bootmem-tagged, but freed on removal
 * when they empty, so they belong in the page accounting. */
enum role { ROLE_MEMMAP, ROLE_PTE, ROLE_PMD, ROLE_PUD, ROLE_USAGE, ROLE_PGDAT, ROLE_DMAP_PMD, ROLE_DMAP_PUD };
static const char *const role_names[] = { "memmap", "pte", "pmd", "pud", "usage", "pgdat", "dmap_pmd", "dmap_pud" };

struct entry {
	unsigned long pfn;
	unsigned int role;
	long owner; /* section number, or node id for pgdat */
};

static struct entry *entries;
static unsigned long nr_entries;
static DEFINE_MUTEX(probe_lock);
static char *query_buf;

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
	if (PagePrivate(page)) {
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
	if (nr_entries >= MAX_ENTRIES)
		return;
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

/* The page-table pages above a kernel virtual address, walked from the current mm (which shares
 * the kernel half; init_mm is not exported). */
static void add_table_pages(unsigned long va, long section, unsigned int pud_role, unsigned int pmd_role)
{
	pgd_t *pgd = pgd_offset(current->active_mm, va);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(*pgd))
		return;
	p4d = p4d_offset(pgd, va);
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
	add_table_pages(start, nr, ROLE_PUD, ROLE_PMD);
	if (online_section(ms))
		add_table_pages((unsigned long)__va(PFN_PHYS(section_nr_to_pfn(nr))), nr, ROLE_DMAP_PUD, ROLE_DMAP_PMD);
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
	for (nr = 0; nr < max_sections && nr < NR_MEM_SECTIONS; nr++) {
		struct mem_section *ms = __nr_to_section(nr);

		if (ms && valid_section(ms))
			collect_section(nr);
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

struct page_state {
	int online;
	int nid;
	int res, priv, buddy, selfhosted;
	int ref;
	unsigned long type, info;
};

static void read_state(unsigned long pfn, struct page_state *st)
{
	struct page *page = pfn_to_online_page(pfn);

	memset(st, 0, sizeof(*st));
	if (!page)
		return;
	st->online = 1;
	st->nid = page_to_nid(page);
	st->res = PageReserved(page);
	st->priv = PagePrivate(page);
	st->buddy = PageBuddy(page);
	st->selfhosted = test_bit(PG_owner_priv_1, &page->flags);
	st->ref = page_ref_count(page);
	page_tag(page, &st->type, &st->info);
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
	seq_printf(m, " nid=%d res=%d priv=%d buddy=%d selfhosted=%d ref=%d type=%lu info=%lu", st->nid, st->res,
		   st->priv, st->buddy, st->selfhosted, st->ref, st->type, st->info);
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

static int snapshot_show(struct seq_file *m, void *v)
{
	unsigned long nr, i, lines = 0;
	int nid;

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
	seq_printf(m, "end %lu\n", lines);
	mutex_unlock(&probe_lock);
	return 0;
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

static int query_show(struct seq_file *m, void *v)
{
	char *p, *tok, *copy;

	mutex_lock(&probe_lock);
	seq_printf(m, "rig-probe-query %d\n", PROBE_FORMAT);
	copy = kstrdup(query_buf ? query_buf : "", GFP_KERNEL);
	p = copy;
	while (p && (tok = strsep(&p, " \n\t")) != NULL) {
		unsigned long first, last, pfn;
		char *dash = strchr(tok, '-');

		if (!*tok)
			continue;
		if (dash)
			*dash = '\0';
		if (kstrtoul(tok, 0, &first) || (dash && kstrtoul(dash + 1, 0, &last)))
			continue;
		if (!dash)
			last = first;
		for (pfn = first; pfn <= last;) {
			struct page_state st, next;
			unsigned long count = 1;

			read_state(pfn, &st);
			while (pfn + count <= last) {
				read_state(pfn + count, &next);
				if (!same_state(&st, &next))
					break;
				count++;
			}
			seq_printf(m, "Q %lu %lu", pfn, count);
			print_state(m, &st);
			seq_putc(m, '\n');
			pfn += count;
		}
	}
	kfree(copy);
	seq_puts(m, "end\n");
	mutex_unlock(&probe_lock);
	return 0;
}

static int query_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, query_show, NULL, 1 << 18);
}

static ssize_t query_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	char *text;

	if (len > (1 << 20))
		return -E2BIG;
	text = memdup_user_nul(buf, len);
	if (IS_ERR(text))
		return PTR_ERR(text);
	mutex_lock(&probe_lock);
	kfree(query_buf);
	query_buf = text;
	mutex_unlock(&probe_lock);
	return len;
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
	dir = debugfs_create_dir("rig_probe", NULL);
	debugfs_create_file("snapshot", 0400, dir, NULL, &snapshot_fops);
	debugfs_create_file("query", 0600, dir, NULL, &query_fops);
	return 0;
}

static void __exit rig_probe_exit(void)
{
	debugfs_remove_recursive(dir);
	kvfree(entries);
	kfree(query_buf);
}

module_init(rig_probe_init);
module_exit(rig_probe_exit);
