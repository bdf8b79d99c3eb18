namespace Xtf.Core.Testing.Fuzzing;

/// <summary>
/// Iteration seeds: iteration 0 uses the base seed itself and each next seed is a SplitMix64
/// step of the previous one, so a finding's seed S is reproduced alone by <c>--seed S --count 1</c>.
/// </summary>
public static class FuzzSeeds
{
    /// <summary>The seed after <paramref name="seed"/> (SplitMix64's output function over an increment of the golden ratio).</summary>
    public static ulong Next(ulong seed)
    {
        ulong z = seed + 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>The seed of iteration <paramref name="iteration"/> from <paramref name="baseSeed"/>: so a campaign can be split into slices (<c>--from</c>) that together run exactly the iterations of one long run.</summary>
    public static ulong At(ulong baseSeed, long iteration)
    {
        ulong seed = baseSeed;
        for (long i = 0; i < iteration; i++)
            seed = Next(seed);
        return seed;
    }

    /// <summary>A <see cref="Random"/> for one iteration: the same seed gives the same case on every host.</summary>
    public static Random RandomFor(ulong seed) => new((int)(seed ^ (seed >> 32)) & int.MaxValue);
}
