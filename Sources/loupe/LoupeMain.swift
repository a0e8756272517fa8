import LoupeCLI

@main
enum LoupeMain {
    static func main() async {
        await LoupeCommand.main()
    }
}
