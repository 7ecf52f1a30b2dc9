/// One value of a metric series. NaN and ±infinity are values like any other.
public struct MetricPoint: Sendable, Equatable, Codable {
    public let key: String
    public let value: Double
    /// Unix milliseconds.
    public let timestamp: Int64
    public let step: Int64

    public init(key: String, value: Double, timestamp: Int64, step: Int64) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

    public static func == (a: MetricPoint, b: MetricPoint) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.step == b.step && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }

    /// MLflow's order for a series' latest value: by step, then timestamp, then value (NaN lowest).
    func isLater(than other: MetricPoint) -> Bool {
        if step != other.step { return step > other.step }
        if timestamp != other.timestamp { return timestamp > other.timestamp }
        return (value.isNaN ? -.infinity : value) >= (other.value.isNaN ? -.infinity : other.value)
    }
}
