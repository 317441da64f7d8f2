// unit_string for walls/units.h.
#include "walls/units.h"

#include <cstdio>

namespace bstack::walls {

std::string unit_string(Dim d) {
  const struct {
    int e;
    const char* name;
  } parts[] = {{d.USD, "USD"}, {d.kg, "kg"}, {d.J, "J"}, {d.FLOP, "FLOP"}, {d.B, "B"}, {d.s, "s"}};
  // Written with snprintf into fixed buffers: short, and GCC 12's -Wrestrict misfires on
  // std::string concatenation here.
  char num[128] = "", den[128] = "";  // 6 parts x "*FLOP^-2147483648" fit
  int nn = 0, nd = 0;
  for (const auto& p : parts) {
    if (p.e == 0) continue;
    char* side = p.e > 0 ? num : den;
    int& n = p.e > 0 ? nn : nd;
    const int e = p.e > 0 ? p.e : -p.e;
    n += std::snprintf(side + n, sizeof num - static_cast<size_t>(n), "%s%s", n ? "*" : "", p.name);
    if (e != 1) n += std::snprintf(side + n, sizeof num - static_cast<size_t>(n), "^%d", e);
  }
  std::string out = nn ? num : "1";
  if (nd) {
    out += '/';
    out += den;
  }
  return out;
}

}  // namespace bstack::walls
