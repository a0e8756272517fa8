import ArgumentParser
import AsyncHTTPClient
import Foundation
import LoupeAgent
import LoupeCollect

struct PipelinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines",
        abstract: "Check pipeline resources, and show how a running agent's pipelines are doing.",
        subcommands: [Validate.self, Status.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and check LogPipeline, TracePipeline and MetricPipeline files; print what is wrong and where.")

        @Argument(help: ArgumentHelp("Files or directories of *.yaml.", valueName: "path"))
        var paths: [String]

        func run() async throws {
            do {
                let set = try PipelineFiles.load(paths)
                for resource in set.resources { print("\(resource.displayName): valid (\(resource.location))") }
            } catch {
                print("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each pipeline's conditions and counters, from a running loupe agent.")

        @Option(name: .long, help: ArgumentHelp("The agent's HTTP address (default http://127.0.0.1:8081).", valueName: "url"))
        var agent = "http://127.0.0.1:8081"

        func run() async throws {
            let url = agent.hasSuffix("/") ? agent + "api/v1/pipelines" : agent + "/api/v1/pipelines"
            // AsyncHTTPClient, not URLSession: FoundationNetworking would link libcurl and its
            // dependencies into the binary, 5 MB more resident memory for every agent.
            let data: Data
            do {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 16 << 20)
                guard response.status.code == 200 else {
                    print("the agent at \(url) answered \(response.status.code): \(String(buffer: body).prefix(300))")
                    throw ExitCode(1)
                }
                data = Data(buffer: body)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                print("cannot reach the agent at \(url): \(error)")
                throw ExitCode(1)
            }
            let reports = try JSONDecoder().decode([AgentStatus.PipelineReport].self, from: data)
            for report in reports {
                print("\(report.kind) \"\(report.name)\"")
                for condition in report.conditions {
                    print("  \(condition.type)=\(condition.status.rawValue) \(condition.reason): \(condition.message)")
                }
                let totals = report.totals
                print("  received \(totals.received), sent \(totals.sent), refused \(totals.refused), failed requests \(totals.failedRequests)")
                print("  queued \(totals.queuedRequests) requests / \(totals.queuedBytes) of \(totals.queueCapacityBytes) bytes, dropped \(totals.droppedRequests) requests / \(totals.droppedBytes) bytes")
            }
        }
    }
}
