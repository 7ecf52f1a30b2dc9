import Foundation

/// Errors of the remote backends: their configuration, the S3 server's answers, the PostgreSQL catalog.
/// Each message names the place (the URL, the bucket and key, the setting) and what to do.
public enum CloudError: Error, CustomStringConvertible, Equatable {
    /// A backend URL, credential or setting that cannot work as given.
    case configuration(String)
    /// The S3 server answered with an error, or could not be reached after the retries.
    case s3(String)
    /// The PostgreSQL catalog refused a statement or could not be reached.
    case postgres(String)

    public var description: String {
        switch self {
        case .configuration(let m), .s3(let m), .postgres(let m): return m
        }
    }
}
