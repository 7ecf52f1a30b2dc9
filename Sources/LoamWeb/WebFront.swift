import Foundation

/// Loam's web front: pages served by `loam serve`, each plain HTML, CSS and JavaScript modules kept
/// in `pages/` (no CDN, no build step). They call the same REST API as every other client, with the
/// token the visitor signs in with. The annotation page (`/label`) is the first; later pages join here.
public enum WebFront {
    /// The pages, by the path they are served at.
    public static let pages: [String: String] = ["/label": "label.html"]

    /// The files a page may load, under `/web/`.
    public static let assets: Set<String> = ["loam.css", "label.js", "label.html"]

    /// A file's media type and bytes; nil for a name that is not one of the front's files.
    public static func file(_ name: String) -> (type: String, bytes: [UInt8])? {
        guard assets.contains(name), let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "pages"),
              let data = try? Data(contentsOf: url) else { return nil }
        let type = name.hasSuffix(".css") ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8"
        return (type, Array(data))
    }
}
