import Testing
@testable import LoupeScrape
