using Xunit;

namespace Dien.Tests;

/// <summary>
/// Tests that measure the process's allocator (page faults of freed and reused blocks): they run after the parallel
/// tests, with no test beside them taking blocks from the same heap.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Alone";
}
