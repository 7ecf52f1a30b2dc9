import Foundation

/// The statistics drift uses, written to agree with scipy on the same data: the two-sample
/// Kolmogorov–Smirnov statistic with its asymptotic p-value (the Kolmogorov distribution, `kstwobign`),
/// the chi-square test of homogeneity (`chi2_contingency` without continuity correction) with the
/// regularized incomplete gamma function for its p-value, and the population stability index.
enum DriftStatistics {
    /// D = sup |F_a(x) − F_b(x)| over the pooled values (both sorted).
    static func ksStatistic(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var i = 0, j = 0, d = 0.0
        let (n, m) = (Double(a.count), Double(b.count))
        while i < a.count && j < b.count {
            let x = min(a[i], b[j])
            while i < a.count && a[i] <= x { i += 1 }
            while j < b.count && b[j] <= x { j += 1 }
            d = max(d, abs(Double(i) / n - Double(j) / m))
        }
        return d
    }

    /// P(K > λ) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²λ²).
    static func kolmogorovSurvival(_ lambda: Double) -> Double {
        guard lambda > 0 else { return 1 }
        if lambda < 0.2 { return 1 }  // the series converges slowly there; the value is 1 to 1e-16
        var sum = 0.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * lambda * lambda)
            sum += (k % 2 == 1 ? 1 : -1) * term
            if term < 1e-17 { break }
        }
        return min(max(2 * sum, 0), 1)
    }

    /// The asymptotic two-sided p-value of D for samples of n and m values.
    static func ksPValue(_ d: Double, _ n: Int, _ m: Int) -> Double {
        guard n > 0, m > 0 else { return 1 }
        let en = Double(n) * Double(m) / Double(n + m)
        return kolmogorovSurvival(d * en.squareRoot())
    }

    /// Pearson's χ² for a 2×k table of counts (columns with no count on either side dropped), its degrees of
    /// freedom and p-value.
    static func chiSquare(_ a: [Int], _ b: [Int]) -> (statistic: Double, dof: Int, p: Double) {
        let columns = zip(a, b).filter { $0 + $1 > 0 }
        let (na, nb) = (Double(columns.reduce(0) { $0 + $1.0 }), Double(columns.reduce(0) { $0 + $1.1 }))
        guard columns.count > 1, na > 0, nb > 0 else { return (0, 0, 1) }
        let total = na + nb
        var stat = 0.0
        for (x, y) in columns {
            let col = Double(x + y)
            let (ea, eb) = (na * col / total, nb * col / total)
            stat += (Double(x) - ea) * (Double(x) - ea) / ea + (Double(y) - eb) * (Double(y) - eb) / eb
        }
        let dof = columns.count - 1
        return (stat, dof, upperGamma(Double(dof) / 2, stat / 2))
    }

    /// Q(s, x) = Γ(s, x) / Γ(s), by its series below s + 1 and its continued fraction above.
    static func upperGamma(_ s: Double, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        let lnFront = -x + s * log(x) - lgamma(s)
        if x < s + 1 {
            var term = 1 / s, sum = term, k = s
            for _ in 0..<10_000 {
                k += 1
                term *= x / k
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return max(0, 1 - sum * exp(lnFront))
        }
        // Lentz's algorithm.
        let tiny = 1e-300
        var b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - s)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return min(1, exp(lnFront) * h)
    }

    /// PSI = Σ (q − p) ln(q / p) over bins whose edges are the reference's deciles (p: the reference's share
    /// of a bin, q: the other's; each share at least 1e-4 so an empty bin counts, finitely).
    static func psi(reference a: [Double], _ b: [Double], bins: Int = 10) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var edges: [Double] = []
        for i in 1..<bins {
            let position = Double(i) / Double(bins) * Double(a.count - 1)
            let low = Int(position.rounded(.down)), high = min(low + 1, a.count - 1)
            let t = position - Double(low)
            // numpy's linear quantile, rounding as its lerp does (from the nearer end).
            edges.append(t >= 0.5 ? a[high] - (a[high] - a[low]) * (1 - t) : a[low] + (a[high] - a[low]) * t)
        }
        func shares(_ values: [Double]) -> [Double] {
            var counts = [Int](repeating: 0, count: bins)
            for v in values {
                // The bin: how many edges lie strictly below or at v (numpy.searchsorted(edges, v, side="right")).
                var lo = 0, hi = edges.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if edges[mid] <= v { lo = mid + 1 } else { hi = mid }
                }
                counts[lo] += 1
            }
            return counts.map { max(Double($0) / Double(values.count), 1e-4) }
        }
        let (p, q) = (shares(a), shares(b))
        return zip(p, q).reduce(0) { $0 + ($1.1 - $1.0) * log($1.1 / $1.0) }
    }
}
