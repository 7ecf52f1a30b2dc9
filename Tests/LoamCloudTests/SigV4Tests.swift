import Foundation
import LoamCloud
import LoamTestSupport
import Testing

@Suite struct SigV4Tests {
    /// AWS's published example (S3 API reference, "Signature Calculations for the Authorization Header",
    /// GET Object): the signature it lists for these inputs.
    @Test func matchesAWSPublishedExample() {
        let signer = SigV4(credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                           region: "us-east-1")
        let headers = signer.sign(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [:],
                                  headers: ["Range": "bytes=0-9"], payloadHash: SigV4.emptyPayloadHash, date: Date(timeIntervalSince1970: 1_369_353_600))
        let values = Dictionary(uniqueKeysWithValues: headers)
        #expect(values["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(values["x-amz-date"] == "20130524T000000Z")
        #expect(values["x-amz-security-token"] == nil)
    }

    @Test func queryAndPathEncoding() {
        #expect(SigV4.canonicalQuery(["prefix": "a b/c", "list-type": "2", "uploads": ""]) == "list-type=2&prefix=a%20b%2Fc&uploads=")
        #expect(SigV4.encode("ü~x*", keepSlash: true) == "%C3%BC~x%2A")
        #expect(SigV4.encode("a/b", keepSlash: true) == "a/b")
    }

    @Test func credentialsComeFromTheEnvironmentOrAProfile() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try TestEnvironment.write("[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[team]\n# comment\naws_access_key_id=T\naws_secret_access_key=TS\naws_session_token=TT\n",
                                             to: "credentials", in: dir)
        let env = S3Credentials.fromEnvironment
        #expect(try env(["AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "ES", "AWS_SHARED_CREDENTIALS_FILE": file])?.accessKey == "E")
        #expect(try env(["AWS_SHARED_CREDENTIALS_FILE": file])?.secretKey == "DS")
        let team = try env(["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "team"])
        #expect(team?.accessKey == "T" && team?.sessionToken == "TT")
        #expect(try env(["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "other"]) == nil)
        #expect(throws: CloudError.self) { try env(["AWS_ACCESS_KEY_ID": "E"]) }
        #expect(!"\(team!)".contains("TS"))  // the secret never prints
    }

    @Test func locationsAreCheckedBeforeAnyRequest() throws {
        #expect(try S3ObjectStore.parse("s3://bucket/a/b") == ("bucket", "a/b/"))
        #expect(try S3ObjectStore.parse("s3://bucket") == ("bucket", ""))
        #expect(throws: CloudError.self) { try S3ObjectStore.parse("s3://Bad_Bucket/x") }
        #expect(throws: CloudError.self) { try S3ObjectStore.parse("s3://bucket/a/../b") }
        #expect(throws: CloudError.self) { try S3ObjectStore.parse("file:///tmp") }
        #expect(PostgresMetaStore.redacted("postgres://u:secret@h:5432/db") == "postgres://u:***@h:5432/db")
        #expect(throws: CloudError.self) { try PostgresMetaStore(url: "postgres://h:5432/") }
        #expect(throws: CloudError.self) { try PostgresMetaStore(url: "mysql://h/db") }
    }
}
