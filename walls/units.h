// Units for the walls' results: a double tagged at compile time with the exponents of six base
// dimensions, so a formula that divides where it should multiply does not compile, and each
// result field can print (and a test can assert) its unit string.
//
//   s      seconds                     B      bytes (1 GB = 1e9 B)
//   FLOP   floating-point or integer operations (an int8 MAC counts 2, like a fp32 FMA)
//   J      joules (W = J/s)            USD    US dollars
//   kg     kilograms of CO2-equivalent
//
// Counts without a dimension (samples, tokens, ranks, steps, requests) and ratios are Ratio.
// Inputs stay plain doubles whose member names carry the unit (_s, _bytes, _flops_per_s, ...);
// each wall wraps them in a Quantity before its formula, so the formula itself is checked.
// Deliberately small: no prefixes, no conversions, no printing of values (humans see GB/s in
// the CLI, not here).
#pragma once

#include <string>

namespace bstack::walls {

struct Dim {
  int s = 0, B = 0, FLOP = 0, J = 0, USD = 0, kg = 0;
  friend constexpr bool operator==(const Dim&, const Dim&) = default;
};

constexpr Dim operator+(Dim a, Dim b) {
  return {a.s + b.s, a.B + b.B, a.FLOP + b.FLOP, a.J + b.J, a.USD + b.USD, a.kg + b.kg};
}
constexpr Dim operator-(Dim a, Dim b) {
  return {a.s - b.s, a.B - b.B, a.FLOP - b.FLOP, a.J - b.J, a.USD - b.USD, a.kg - b.kg};
}

template <Dim D>
struct Quantity {
  double value = 0;
  static constexpr Dim dim = D;

  constexpr Quantity operator+(Quantity o) const { return {value + o.value}; }
  constexpr Quantity operator-(Quantity o) const { return {value - o.value}; }
  constexpr Quantity operator-() const { return {-value}; }
  constexpr Quantity operator*(double k) const { return {value * k}; }
  constexpr Quantity operator/(double k) const { return {value / k}; }
  friend constexpr Quantity operator*(double k, Quantity q) { return {k * q.value}; }
  template <Dim E>
  constexpr Quantity<D + E> operator*(Quantity<E> o) const { return {value * o.value}; }
  template <Dim E>
  constexpr Quantity<D - E> operator/(Quantity<E> o) const { return {value / o.value}; }
  constexpr auto operator<=>(const Quantity&) const = default;
};

// Named units (the ones the walls use).
using Ratio = Quantity<Dim{}>;
using Seconds = Quantity<Dim{.s = 1}>;
using PerSecond = Quantity<Dim{.s = -1}>;
using Bytes = Quantity<Dim{.B = 1}>;
using BytesPerSecond = Quantity<Dim{.s = -1, .B = 1}>;
using Flop = Quantity<Dim{.FLOP = 1}>;
using FlopPerSecond = Quantity<Dim{.s = -1, .FLOP = 1}>;
using FlopPerByte = Quantity<Dim{.B = -1, .FLOP = 1}>;
using Joules = Quantity<Dim{.J = 1}>;
using Watts = Quantity<Dim{.s = -1, .J = 1}>;
using Usd = Quantity<Dim{.USD = 1}>;
using UsdPerJoule = Quantity<Dim{.J = -1, .USD = 1}>;
using UsdPerSecond = Quantity<Dim{.s = -1, .USD = 1}>;
using KgCo2 = Quantity<Dim{.kg = 1}>;
using KgCo2PerJoule = Quantity<Dim{.J = -1, .kg = 1}>;

// "B/s", "FLOP/B", "kg/J", "1" for a ratio: positive exponents first, then "/" and the rest.
std::string unit_string(Dim d);
template <Dim D>
std::string unit_string(Quantity<D>) {
  return unit_string(D);
}

}  // namespace bstack::walls
