/// The surface a write arrived through; a label on every ingest counter.
public enum IngestProtocol: String, Sendable, CaseIterable {
    case otlpGRPC = "otlp_grpc"
    case otlpHTTPProtobuf = "otlp_http_protobuf"
    case otlpHTTPJSON = "otlp_http_json"
    case prometheusRemoteWrite = "prometheus_remote_write"
    case lokiPush = "loki_push"
    case elasticsearchBulk = "elasticsearch_bulk"
    case zipkin = "zipkin"
    /// Collected by a pipeline `loupe up` runs itself (container logs, node metrics) with `output.loupe`.
    case pipeline = "pipeline"
}
