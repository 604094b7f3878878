#include "rig/report/html_report.h"

#include "rig/base/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "rig/report/results_report.h"
#include "rig/scenario/artifact_names.h"
#include "rig/scenario/scenario_file.h"

namespace rig {

std::string html_escape(const std::string& in) { return xml_escape(in); }

namespace {

namespace stdfs = std::filesystem;

// Geometry of a memory map (pixels).
constexpr int kLabelW = 70;  // node label column
constexpr int kCellW = 46;
constexpr int kCellH = 38;
constexpr int kGapW = 34;      // a jump in section numbers
constexpr int kBracketH = 22;  // DIMM brackets above a row
constexpr int kArcH = 34;      // memmap arcs below a row
constexpr int kRowH = kBracketH + kCellH + kArcH;

const char* kCss = R"(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-top:2px solid #ddd;padding-top:12px}
h3{font-size:15px;margin:16px 0 4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.v{display:inline-block;padding:1px 8px;border-radius:9px;font-weight:600;color:#fff}
.v-pass{background:#2e8540}.v-fail{background:#c62828}.v-xfail{background:#8e6bbf}.v-xpass{background:#e08a00}
.v-flaky{background:#d35400}.v-error{background:#444}.v-skip{background:#999}.v-n\/a{background:#bbb}
.frames{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.frame{border:1px solid #ddd;padding:6px;background:#fcfcfc}
.frame-title{font-weight:600;margin-bottom:4px}.note{color:#8a5a00}.bad-row{background:#fdecea}
svg text{font-family:system-ui,sans-serif}
.cell rect.c{stroke:#555;stroke-width:1}
.st-boot rect.c{fill:#8fb3d9}.st-hot-added rect.c{fill:#93d193}.st-offline rect.c{fill:#d4d4d4}
.st-removed rect.c{fill:#fff;stroke:#999;stroke-dasharray:3 2}.st-absent rect.c{fill:none;stroke:#ccc;stroke-dasharray:1 3}
.departing rect.c{stroke:#1f4fd1;stroke-width:2.5}
.bad rect.c{stroke:#d00000;stroke-width:3}
rect.badpage{fill:#d00000}
rect.checkmark{fill:none;stroke:#d00000;stroke-width:1.5;stroke-dasharray:4 2}
.arc{fill:none;stroke:#6a4c93;stroke-width:1.2;opacity:.75}
.bracket{fill:none;stroke:#333;stroke-width:1.2}
.vmem .bracket{stroke:#2a6;stroke-dasharray:4 2}
.lbl{font-size:12px;fill:#222}.sec{font-size:11px;fill:#222}.zone{font-size:11px;fill:#333;font-weight:600}
.mark-pgdat{fill:#f2c200;stroke:#7a6100}.mark-table{fill:#e06666;stroke:#7a1f1f}.mark-host{fill:#6a4c93}
.gap{font-size:14px;fill:#666}.legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:13px;margin:6px 0 10px}.li{display:inline-flex;align-items:center;gap:5px}.badlbl{font-size:11px;font-weight:700;fill:#d00000}
)";

std::string verdict_badge(const std::string& v) {
  return fmt::format("<span class=\"v v-{0}\">{0}</span>", html_escape(v));
}

std::string size_text(uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) return fmt::format("{} GiB", bytes >> 30);
  if (bytes >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ull << 30));
  return fmt::format("{} MiB", bytes >> 20);
}

std::string zone_short(const std::string& z) {
  if (z == "Normal") return "N";
  if (z == "Movable") return "M";
  if (z == "DMA32") return "D32";
  if (z == "DMA") return "D";
  if (z == "mixed") return "mix";
  return z.substr(0, 3);
}

struct Layout {
  std::map<uint64_t, int> x;                   // column -> left edge
  std::vector<std::pair<int, uint64_t>> gaps;  // left edge of a gap, sections skipped
  std::map<int, int> row;                      // node -> top of its row
  int width = 0, height = 0;
};

Layout layout_of(const ScenarioView& v) {
  Layout l;
  int x = kLabelW;
  for (size_t i = 0; i < v.columns.size(); ++i) {
    if (i > 0 && v.columns[i] != v.columns[i - 1] + 1) {
      l.gaps.push_back({x, v.columns[i] - v.columns[i - 1] - 1});
      x += kGapW;
    }
    l.x[v.columns[i]] = x;
    x += kCellW;
  }
  l.width = x + 8;
  int y = 4;
  for (int n : v.nodes) {
    l.row[n] = y;
    y += kRowH;
  }
  l.height = y;
  return l;
}

std::string cell_title(const SectionCell& c, int shift) {
  std::string t = fmt::format("section {} - node {}", c.section, c.node);
  if (shift > 0)
    t += fmt::format("\npfn {}-{} ({} pages, {} at {:#x})", c.first_pfn, c.first_pfn + c.pages - 1, c.pages,
                     size_text(c.pages << 12), c.section << shift);
  t += fmt::format("\nstate: {}", cell_state_name(c.state));
  if (!c.zone.empty()) t += fmt::format(", zone {}", c.zone);
  if (!c.dimm.empty()) t += fmt::format("\nDIMM {}", c.dimm);
  for (const auto& [host, pages] : c.memmap_hosts)
    t += host == c.section ? fmt::format("\nmemmap on itself ({} pages)", pages)
                           : fmt::format("\nmemmap on section {} ({} pages)", host, pages);
  if (c.selfhosted) t += "\nmemmap_on_memory (self-hosted)";
  if (!c.hosts_memmap_of.empty()) {
    std::string list;
    for (uint64_t s : c.hosts_memmap_of) list += fmt::format("{}{}", list.empty() ? "" : ", ", s);
    t += "\nholds the memmap of section " + list;
  }
  if (c.memmap_case()) t += fmt::format("\nmemmap case {}", c.memmap_case());
  for (int n : c.pgdat_of) t += fmt::format("\npgdat of node {}", n);
  if (c.table_pages) t += fmt::format("\n{} vmemmap page-table page(s)", c.table_pages);
  if (!c.roles.empty()) {
    std::string list;
    for (const auto& r : c.roles) list += (list.empty() ? "" : ", ") + r;
    t += "\nroles of pages here: " + list;
  }
  if (c.departing) {
    std::string cases;
    for (int k : c.cases) cases += fmt::format("{}{}", cases.empty() ? "" : ",", k);
    t += fmt::format("\ndeparts in this step (case {})", cases.empty() ? "-" : cases);
  }
  for (const auto& b : c.bad) t += fmt::format("\n{}: pfn {} ({}) expected {}", b.kind, b.pfn, b.roles, b.expected);
  for (const auto& k : c.failed_checks) t += "\nfailed check: " + k;
  return t;
}

std::string render_map(const ScenarioView& v, const MapFrame& f) {
  const Layout l = layout_of(v);
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" id=\"{0}\" width=\"{1}\" height=\"{2}\" viewBox=\"0 0 "
      "{1} {2}\" "
      "role=\"img\" aria-label=\"{3}\">\n",
      html_escape(f.id), l.width, l.height, html_escape("memory map " + f.title));
  // Node labels and gaps.
  for (const auto& [node, y] : l.row) {
    out += fmt::format("<text class=\"lbl\" id=\"{}-node-{}\" x=\"4\" y=\"{}\">node {}</text>\n", html_escape(f.id),
                       node, y + kBracketH + kCellH / 2 + 4, node);
    for (const auto& [gx, skipped] : l.gaps)
      out += fmt::format(
          "<text class=\"gap\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">&#8943;<title>{} sections ({}) not "
          "present</title></text>\n",
          gx + kGapW / 2, y + kBracketH + kCellH / 2 + 4, skipped,
          v.section_shift ? size_text(skipped << v.section_shift) : "?");
  }
  // DIMM brackets.
  for (const auto& d : v.dimms) {
    if (!l.row.count(d.node) || !l.x.count(d.first_section) || !l.x.count(d.last_section)) continue;
    const int x1 = l.x.at(d.first_section) + 2, x2 = l.x.at(d.last_section) + kCellW - 2,
              y = l.row.at(d.node) + kBracketH - 3;
    const std::string title = d.virtio_mem ? fmt::format("{}: sections {}-{}", d.title, d.first_section, d.last_section)
                                           : fmt::format("DIMM {} ({}): sections {}-{}", d.id,
                                                         d.boot ? "boot" : "hot-plug", d.first_section, d.last_section);
    out += fmt::format(
        "<g class=\"{}\"><title>{}</title><path class=\"bracket\" d=\"M{} {} V{} H{} "
        "V{}\"/>"
        "<text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>\n",
        d.virtio_mem ? "dimm vmem" : "dimm", html_escape(title), x1, y + 3, y - 4, x2, y + 3, (x1 + x2) / 2, y - 6,
        html_escape(d.id));
  }
  // Memmap arcs: from each section to the section(s) holding its memmap.
  for (const auto& [nr, c] : f.cells) {
    if (!l.x.count(nr) || !l.row.count(c.node)) continue;
    for (const auto& [host, pages] : c.memmap_hosts) {
      if (host == nr) continue;
      auto hc = f.cells.find(host);
      if (hc == f.cells.end() || !l.x.count(host) || !l.row.count(hc->second.node)) continue;
      const int sx = l.x.at(nr) + kCellW / 2, hx = l.x.at(host) + kCellW / 2;
      const int srow = l.row.at(c.node), hrow = l.row.at(hc->second.node);
      std::string d;
      if (srow == hrow) {
        const int yb = srow + kBracketH + kCellH;
        const int depth = std::min(kArcH - 4, 8 + std::abs(sx - hx) / 12);
        d = fmt::format("M{} {} Q{} {} {} {}", sx, yb, (sx + hx) / 2, yb + 2 * depth, hx, yb);
      } else if (hrow < srow) {
        const int y1 = srow + kBracketH, y2 = hrow + kBracketH + kCellH;
        d = fmt::format("M{} {} C{} {} {} {} {} {}", sx, y1, sx, y1 - 20, hx, y2 + 20, hx, y2);
      } else {
        const int y1 = srow + kBracketH + kCellH, y2 = hrow + kBracketH;
        d = fmt::format("M{} {} C{} {} {} {} {} {}", sx, y1, sx, y1 + 20, hx, y2 - 20, hx, y2);
      }
      out += fmt::format(
          "<path class=\"arc\" d=\"{}\"><title>memmap of section {} on section {} ({} pages)</title></path>\n", d, nr,
          host, pages);
    }
  }
  // Cells.
  for (const auto& [nr, c] : f.cells) {
    if (!l.x.count(nr) || !l.row.count(c.node)) continue;
    const int x = l.x.at(nr), y = l.row.at(c.node) + kBracketH;
    std::string cls = fmt::format("cell st-{}", cell_state_name(c.state));
    if (c.departing) cls += " departing";
    if (!c.bad.empty()) cls += " bad";
    if (!c.failed_checks.empty()) cls += " check-failed";
    // A cell holding a page whose fate differs links to that page's row; one a failed check names
    // (at boot, without pages judged) to the check.
    const bool linked = !c.bad.empty() || !c.failed_check_rows.empty();
    if (!c.bad.empty())
      out += fmt::format("<a href=\"#{}-bad-{}\">", html_escape(f.id), nr);
    else if (linked)
      out += fmt::format("<a href=\"#{}-check-{}\">", html_escape(v.id), c.failed_check_rows.front());
    out += fmt::format("<g class=\"{}\" id=\"{}-sec-{}\" data-section=\"{}\" data-node=\"{}\"><title>{}</title>", cls,
                       html_escape(f.id), nr, nr, c.node, html_escape(cell_title(c, v.section_shift)));
    out += fmt::format("<rect class=\"c\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\"/>", x + 1, y,
                       kCellW - 2, kCellH);
    out += fmt::format("<text class=\"sec\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", x + kCellW / 2, y + 13,
                       nr);
    if (!c.zone.empty())
      out += fmt::format("<text class=\"zone\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", x + kCellW / 2,
                         y + 27, html_escape(zone_short(c.zone)));
    else if (c.state == CellState::Removed)
      out += fmt::format("<text class=\"zone\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">&#215;</text>", x + kCellW / 2,
                         y + 27);
    if (!c.pgdat_of.empty())
      out += fmt::format("<circle class=\"mark-pgdat\" cx=\"{}\" cy=\"{}\" r=\"4\"/>", x + 7, y + kCellH - 7);
    if (c.table_pages > 0)
      out += fmt::format("<path class=\"mark-table\" d=\"M{} {} l5 -9 l5 9 z\"/>", x + kCellW - 13, y + kCellH - 3);
    if (!c.hosts_memmap_of.empty())
      out +=
          fmt::format("<rect class=\"mark-host\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"3\"/>", x + 1, y, kCellW - 2);
    // Each page whose fate differs, as a tick where it lies in the section.
    for (const auto& b : c.bad) {
      const double off = c.pages ? static_cast<double>(b.pfn - c.first_pfn) / static_cast<double>(c.pages) : 0;
      out += fmt::format(
          "<rect class=\"badpage\" x=\"{:.1f}\" y=\"{}\" width=\"4\" height=\"{}\"><title>{}: pfn {} ({}) expected "
          "{}</title></rect>",
          x + 2 + off * (kCellW - 8), y - 4, kCellH + 8, html_escape(b.kind), b.pfn, html_escape(b.roles),
          html_escape(b.expected));
    }
    if (!c.bad.empty())
      out +=
          fmt::format("<text class=\"badlbl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>", x + kCellW / 2,
                      y - 6, html_escape(c.bad[0].kind), c.bad.size() > 1 ? fmt::format(" +{}", c.bad.size() - 1) : "");
    if (!c.failed_checks.empty())
      out += fmt::format("<rect class=\"checkmark\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", x - 1, y - 3,
                         kCellW + 2, kCellH + 6);
    out += "</g>";
    if (linked) out += "</a>";
    out += "\n";
  }
  out += "</svg>\n";
  return out;
}

std::string render_frame(const ScenarioView& v, const MapFrame& f) {
  std::string out = fmt::format("<div class=\"frame\"><div class=\"frame-title\">{}</div>\n", html_escape(f.title));
  out += render_map(v, f);
  if (!f.note.empty()) out += fmt::format("<div class=\"note\">{}</div>\n", html_escape(f.note));
  return out + "</div>\n";
}

// The legend as HTML: each sample a tiny inline SVG beside its words (the browser lays them out).
std::string legend() {
  auto item = [](const std::string& svg, const char* text) {
    return fmt::format(
        "<span class=\"li\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"26\" height=\"20\" viewBox=\"0 0 26 "
        "20\">{}</svg>{}</span>\n",
        svg, text);
  };
  auto swatch = [&](const char* cls, const char* text) {
    return item(
        fmt::format(
            "<g class=\"swatch {}\"><rect class=\"c\" x=\"2\" y=\"3\" width=\"22\" height=\"14\" rx=\"2\"/></g>", cls),
        text);
  };
  std::string out = "<div class=\"legend\">\n";
  out += swatch("cell st-boot", "boot memory");
  out += swatch("cell st-hot-added", "hot-added, online");
  out += swatch("cell st-offline", "offline");
  out += swatch("cell st-removed", "removed");
  out += swatch("cell st-absent", "not plugged");
  out += swatch("cell st-boot departing", "departs in this step");
  out += swatch("cell st-boot bad", "holds a page whose fate differs");
  out += item("<circle class=\"mark-pgdat\" cx=\"13\" cy=\"10\" r=\"4\"/>", "pgdat");
  out += item("<path class=\"mark-table\" d=\"M8 15 l5 -9 l5 9 z\"/>", "vmemmap page table");
  out += item("<rect class=\"mark-host\" x=\"2\" y=\"8\" width=\"22\" height=\"3\"/>", "holds others' memmap (case 3)");
  out += item("<path class=\"arc\" d=\"M2 4 Q13 22 24 4\"/>", "section &#8594; the section holding its memmap");
  out += item("<rect class=\"badpage\" x=\"11\" y=\"2\" width=\"4\" height=\"16\"/>",
              "a page leaked, lost or wrongly freed");
  out += item("<rect class=\"checkmark\" x=\"2\" y=\"4\" width=\"22\" height=\"12\"/>", "named by a failed check");
  return out + "</div>\n";
}

// `dir` is a safe relative link (is_safe_relative_link) or empty: the view keeps no other.
std::string artifact_href(const std::string& dir, const std::string& file) {
  if (dir.empty() || !is_safe_relative_link(dir)) return "";
  return html_escape(dir + (file.empty() ? "/" : "/" + file));
}

std::string render_matrix(const ReportView& rv) {
  const MatrixView& m = rv.matrix;
  std::string out = "<h2 id=\"matrix\">Matrix</h2>\n<table class=\"matrix\"><tr><th>scenario</th>";
  for (const auto& k : m.kernels) out += fmt::format("<th>{}</th>", html_escape(k));
  out += "</tr>\n";
  for (const auto& s : m.scenarios) {
    out += fmt::format("<tr><th>{}</th>", html_escape(s));
    for (const auto& k : m.kernels) {
      auto it = m.cells.find({s, k});
      if (it == m.cells.end()) {
        out += "<td>-</td>";
        continue;
      }
      const MatrixCell& c = it->second;
      out += fmt::format("<td class=\"mcell\">{}", verdict_badge(c.verdict));
      if (c.runs > 1) out += fmt::format(" {}/{} passed", c.passed, c.runs);
      out += fmt::format(" <span class=\"mono\">{:.1f} s/run</span><br>", c.runs ? c.seconds / c.runs : 0.0);
      for (size_t i = 0; i < c.anchors.size(); ++i) {
        out += fmt::format("<a href=\"#{}\">report{}</a>", html_escape(c.anchors[i]),
                           c.anchors.size() > 1 ? fmt::format(" {}", i + 1) : "");
        if (i < c.artifacts.size() && !c.artifacts[i].empty())
          out += fmt::format(" &middot; <a href=\"{}\">artifacts</a>", artifact_href(c.artifacts[i], ""));
        out += i + 1 < c.anchors.size() ? "<br>" : "";
      }
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n<p>";
  std::string totals;
  for (const char* v : {"pass", "fail", "xfail", "xpass", "flaky", "error", "skip"}) {
    auto it = m.totals.find(v);
    totals += fmt::format("{}{} {}", totals.empty() ? "" : ", ", it == m.totals.end() ? 0 : it->second, v);
  }
  out += fmt::format("{} runs: {}. Time per run {:.1f} s on average ({:.1f} s of runs", m.runs, html_escape(totals),
                     m.runs ? m.run_seconds / m.runs : 0.0, m.run_seconds);
  if (m.wall_s > 0) out += fmt::format(", {:.1f} s wall clock", m.wall_s);
  out += ").";
  if (!rv.info.complete) out += " <b>The run was not complete when this report was written.</b>";
  if (!rv.info.shard.empty()) out += fmt::format(" Shard {}.", html_escape(rv.info.shard));
  return out + "</p>\n";
}

std::string render_bad_table(const std::string& frame_id, const std::vector<BadPage>& bad) {
  if (bad.empty()) return "";
  std::string out =
      "<table class=\"badpages\"><tr><th>pfn</th><th>section</th><th>fate</th><th>roles</th><th>expected</th><th>what "
      "the model says</th></tr>\n";
  std::set<uint64_t> anchored;
  for (const auto& b : bad) {
    const bool anchor = anchored.insert(b.section).second;
    out += fmt::format(
        "<tr class=\"bad-row\"{}><td class=\"mono\">{}</td><td><a href=\"#{}-sec-{}\">{}</a></td><td><b>{}</b></td><td "
        "class=\"mono\">{}</td>"
        "<td>{}</td><td>{}</td></tr>\n",
        anchor ? fmt::format(" id=\"{}-bad-{}\"", html_escape(frame_id), b.section) : "", b.pfn, html_escape(frame_id),
        b.section, b.section, html_escape(b.kind), html_escape(b.roles), html_escape(b.expected),
        html_escape(b.problem));
  }
  return out + "</table>\n";
}

std::string render_checks(const ScenarioView& v) {
  if (v.checks.empty()) return "";
  std::string out =
      "<h3>Checks</h3>\n<table "
      "class=\"checks\"><tr><th>status</th><th>case</th><th>check</th><th>step</th><th>detail</th><th>cells and "
      "pages</th></tr>\n";
  int k = 0;
  for (const auto& c : v.checks) {
    std::string links;
    if (!c.frame.empty()) {
      for (uint64_t s : c.sections)
        links += fmt::format("<a class=\"cell-link\" href=\"#{}-sec-{}\">section {}</a> ", html_escape(c.frame), s, s);
      if (c.node >= 0)
        links += fmt::format("<a class=\"cell-link\" href=\"#{}-node-{}\">node {}</a> ", html_escape(c.frame), c.node,
                             c.node);
    }
    if (!c.pfns.empty()) {
      std::string pfns;
      for (size_t i = 0; i < c.pfns.size() && i < 16; ++i)
        pfns += fmt::format("{}{}", pfns.empty() ? "" : " ", c.pfns[i]);
      if (c.pfns.size() > 16) pfns += fmt::format(" (+{} more)", c.pfns.size() - 16);
      links += fmt::format("<span class=\"mono\">pfn {}</span>", pfns);
    }
    out += fmt::format(
        "<tr "
        "id=\"{}-check-{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}{}</td><td>{}</td></tr>\n",
        html_escape(v.id), k++, verdict_badge(c.status), c.case_no, html_escape(c.name),
        c.step < 0 ? std::string("boot") : std::to_string(c.step), html_escape(c.detail),
        c.evidence.empty() ? "" : fmt::format("<br><i>evidence: {}</i>", html_escape(c.evidence)), links);
  }
  return out + "</table>\n";
}

std::string render_scenario(const ScenarioView& v) {
  const ScenarioResult& r = *v.result;
  std::string out = fmt::format(
      "<section class=\"scenario\" id=\"{}\">\n<h2>{} on {}{} {}</h2>\n", html_escape(v.id), html_escape(r.scenario),
      html_escape(r.kernel), r.run > 1 ? fmt::format(" (run {})", r.run) : "", verdict_badge(verdict_name(r.verdict)));
  if (!r.reason.empty()) out += fmt::format("<p>{}</p>\n", html_escape(r.reason));
  out += fmt::format("<p class=\"mono\">{:.1f} s, {}, cpu {}, start {}", r.duration_s, html_escape(r.accel),
                     html_escape(r.cpu), html_escape(r.start.empty() ? "-" : r.start));
  if (!v.artifacts_link.empty())
    out += fmt::format(
        " &middot; <a href=\"{}\">artifacts</a> &middot; <a href=\"{}\">result.json</a> &middot; <a "
        "href=\"{}\">console.log</a>",
        artifact_href(v.artifacts_link, ""), artifact_href(v.artifacts_link, artifact::kResult),
        artifact_href(v.artifacts_link, artifact::kConsole));
  else if (!v.artifacts_text.empty())
    out += fmt::format(" &middot; artifacts <code>{}</code>", html_escape(v.artifacts_text));
  if (!r.reproducer.empty()) out += fmt::format(" &middot; reproducer <code>{}</code>", html_escape(r.reproducer));
  out += "</p>\n";
  for (const auto& n : v.notes) out += fmt::format("<p class=\"note\">{}</p>\n", html_escape(n));
  if (v.has_map && !v.boot.id.empty()) {
    out += "<div class=\"frames\">" + render_frame(v, v.boot) + "</div>\n";
  }
  // Every step in a table; those with probe snapshots also as a picture before and after.
  if (!r.steps.empty()) {
    out +=
        "<h3>Steps</h3>\n<table "
        "class=\"steps\"><tr><th>#</th><th>action</th><th>target</th><th>expected</th><th>outcome</th><th>detail</th></"
        "tr>\n";
    for (const auto& s : v.steps)
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>\n", s.index,
                         html_escape(s.action), html_escape(s.target), html_escape(s.expected), html_escape(s.outcome),
                         s.ok ? "" : " <b>(mismatch)</b>", html_escape(s.detail));
    out += "</table>\n";
  }
  for (const auto& s : v.steps) {
    if (!s.has_frames) continue;
    out += fmt::format("<h3 id=\"{}-step-{}\">Step {}: {} {} &#8594; {}</h3>\n", html_escape(v.id), s.index, s.index,
                       html_escape(s.action), html_escape(s.target), html_escape(s.outcome));
    if (!s.analysis.empty()) {
      out += "<ul class=\"analysis\">";
      for (const auto& a : s.analysis) out += fmt::format("<li>{}</li>", html_escape(a));
      out += "</ul>\n";
    }
    if (!s.order.empty()) {
      out += "<p><b>Removal order (case 3):</b> ";
      for (size_t i = 0; i < s.order.size(); ++i) out += (i ? "; " : "") + html_escape(s.order[i]);
      out += "</p>\n";
    }
    out += "<div class=\"frames\">";
    if (!s.before.id.empty()) out += render_frame(v, s.before);
    if (!s.after.id.empty()) out += render_frame(v, s.after);
    out += "</div>\n";
    if (s.pages_judged > 0)
      out += fmt::format("<p>{} pages judged against the accounting model; {} differ.</p>\n", s.pages_judged,
                         s.bad.size());
    out += render_bad_table(s.after.id, s.bad);
  }
  out += render_checks(v);
  if (!r.console_findings.empty()) {
    out += "<h3>Console</h3>\n<ul>";
    for (const auto& f : r.console_findings)
      out += fmt::format("<li>{} ({}), line {}: <code>{}</code></li>", html_escape(f.kind), severity_name(f.severity),
                         f.line_no, html_escape(f.headline));
    out += "</ul>\n";
  }
  return out + "</section>\n";
}

// Each kernel against the next: the scenarios whose verdict or checks changed, and how.
std::string render_comparisons(const ReportView& rv) {
  if (rv.comparisons.empty()) return "";
  std::string out = "<h2 id=\"kernels\">Kernels compared</h2>\n";
  for (const auto& c : rv.comparisons) {
    out += fmt::format("<h3>{} &#8594; {}: {} of {} scenarios changed</h3>\n", html_escape(c.kernel_a),
                       html_escape(c.kernel_b), c.changed(), c.scenarios.size());
    if (!c.changed()) continue;
    out +=
        "<table class=\"matrix\"><tr><th>scenario</th><th>A</th><th>B</th><th>checks that changed (A &#8594; "
        "B)</th></tr>\n";
    for (const auto& s : c.scenarios) {
      if (s.in_a == s.in_b && s.verdict_a == s.verdict_b && !s.changed()) continue;
      std::string changes;
      for (const auto& ck : s.checks) {
        if (!ck.changed()) continue;
        auto side = [](const CheckSide& x) {
          return !x.present ? std::string("absent")
                 : x.pages  ? fmt::format("{} ({} pages)", x.status, x.pages)
                            : x.status;
        };
        changes += fmt::format("{}{} {}: {} &#8594; {}", changes.empty() ? "" : "<br>",
                               ck.step < 0 ? "boot" : fmt::format("step {}", ck.step), html_escape(ck.name),
                               html_escape(side(ck.a)), html_escape(side(ck.b)));
      }
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html_escape(s.scenario),
                         s.in_a ? verdict_badge(s.verdict_a) : "not run",
                         s.in_b ? verdict_badge(s.verdict_b) : "not run", changes);
    }
    out += "</table>\n";
  }
  return out;
}

}  // namespace

std::string render_html_report(const ReportView& rv) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  std::string title = "rig report";
  if (rv.scenarios.size() == 1)
    title += ": " + rv.scenarios[0].result->scenario + " on " + rv.scenarios[0].result->kernel;
  out += fmt::format("<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n", html_escape(title), kCss);
  out += fmt::format("<h1>{}</h1>\n", html_escape(title));
  out += render_matrix(rv);
  out += render_comparisons(rv);
  bool any_map = false;
  for (const auto& v : rv.scenarios) any_map |= v.has_map;
  if (any_map) {
    out +=
        "<p>Memory maps: one row per NUMA node, one cell per memory section in physical-address order (&#8943; a gap); "
        "the letter is the zone (N Normal, M Movable, D32 DMA32, mix several). Hover a cell for its pages and "
        "roles.</p>\n";
    out += legend();
  }
  for (const auto& v : rv.scenarios) out += render_scenario(v);
  out += "</body>\n</html>\n";
  return out;
}

std::string locate_run_artifacts(const std::string& recorded, const std::string& results_dir, ResultsOrigin origin) {
  if (recorded.empty()) return "";
  std::error_code ec;
  if (origin == ResultsOrigin::ThisRun && stdfs::is_directory(recorded, ec)) return recorded;
  const stdfs::path name = stdfs::path(recorded).filename();
  if (results_dir.empty() || name.empty() || name == "." || name == "..") return "";
  // A real directory (not a link to one elsewhere) inside the results folder.
  auto real_dir = [&ec](const stdfs::path& p) {
    return stdfs::symlink_status(p, ec).type() == stdfs::file_type::directory;
  };
  const stdfs::path runs = stdfs::path(results_dir) / "runs";
  if (real_dir(runs) && real_dir(runs / name)) return (runs / name).string();
  if (real_dir(stdfs::path(results_dir) / name)) return (stdfs::path(results_dir) / name).string();
  return "";
}

void write_html_report(const std::vector<ScenarioResult>& results, const RunInfo& info, const std::string& path,
                       const std::string& results_dir, ResultsOrigin origin) {
  std::vector<ScenarioResult> located = results;
  std::vector<RunArtifacts> artifacts;
  std::vector<std::vector<std::string>> refused;
  for (auto& r : located) {
    const std::string dir = locate_run_artifacts(r.artifacts, results_dir, origin);
    if (!dir.empty()) r.artifacts = stdfs::absolute(dir).lexically_normal().string();
    refused.emplace_back();
    artifacts.push_back(read_run_artifacts(dir, &refused.back()));
    // Results written before the topology was recorded: the scenario file, if it is still there.
    std::error_code ec;
    if (r.dimms.empty() && r.nodes.empty() && !r.scenario_path.empty() && stdfs::is_regular_file(r.scenario_path, ec)) {
      try {
        const Scenario s = load_scenario_file(r.scenario_path);
        r.nodes = s.nodes;
        r.dimms = s.dimms;
        r.virtio_mems = s.virtio_mems;
      } catch (const std::exception&) {
        // Changed since: the report says it has no DIMMs.
      }
    }
  }
  const std::string base = stdfs::absolute(path).parent_path().lexically_normal().string();
  ReportView view = build_report_view(located, artifacts, info, base);
  for (size_t i = 0; i < view.scenarios.size() && i < refused.size(); ++i)
    for (auto& note : refused[i]) view.scenarios[i].notes.push_back(std::move(note));
  write_file_atomically(path, render_html_report(view));
}

}  // namespace rig
