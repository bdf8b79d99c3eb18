using Xtf.Core.Cpu;
using Xtf.Core.Guest;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>
/// One fuzz mode: its name and how one iteration runs from its seed with an instruction budget.
/// An iteration returns a short description of the case it ran (mode, CPL, environment) and ends
/// quietly whatever the guest did; a host exception escapes it (or, through the engine, is the
/// instance's diagnostic, reported as <see cref="HostException"/>).
/// </summary>
public sealed record FuzzMode(string Name, string Description, Func<ulong, long, string> Iteration);

/// <summary>Thrown by an engine iteration whose instance ended in a host exception (the launcher turned it into the instance's CRASH diagnostic).</summary>
public sealed class HostException(string message) : Exception(message);

/// <summary>The fuzz modes of <c>xtf-runner fuzz</c>.</summary>
public static class FuzzModes
{
    /// <summary>Default per-iteration budget for the bare-CPU modes (instructions).</summary>
    public const long DefaultBudget = 20_000;

    /// <summary>Engine iterations get this many times the budget: the guest's boot and runtime run first.</summary>
    public const long EngineBudgetFactor = 25;

    private static readonly Environments[] Hvm = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    /// <summary>Every mode, in the order they run.</summary>
    public static IReadOnlyList<FuzzMode> All { get; } =
    [
        new("bytes", "random bytes run as code on the bare CPU from a random state (real, virtual-8086, 16/32-bit protected, 32-bit and PAE paging, 64-bit, compatibility; CPL 0 and 3)", (seed, budget) => Bare(seed, budget, instructions: false)),
        new("insns", "random valid instructions of every map and prefix, and system instructions (far transfers, IRET, INT n, SYSENTER/SYSCALL, MOV CR/DR/Sreg, LGDT/LIDT, WRMSR, FEP) on the bare CPU, from the same states", (seed, budget) => Bare(seed, budget, instructions: true)),
        new("hvm", "a guest (hvm32, hvm32pse, hvm32pae, hvm64) making random hypercalls and running random instruction snippets at CPL 0 and 3", (seed, budget) => Engine(seed, budget, Hvm)),
        new("pv", "the same guest as a PV guest (pv64, pv32pae)", (seed, budget) => Engine(seed, budget, Pv)),
    ];

    /// <summary>The mode named <paramref name="name"/>, or null.</summary>
    public static FuzzMode? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    private static string Bare(ulong seed, long budget, bool instructions)
    {
        var rng = FuzzSeeds.RandomFor(seed);
        var mode = (FuzzCpuMode)rng.Next(Enum.GetValues<FuzzCpuMode>().Length);
        int cpl = rng.Next(2) * 3;
        var tier = (ExecutionTier)rng.Next(Enum.GetValues<ExecutionTier>().Length);
        var vm = FuzzMachine.Create(rng, mode, cpl, budget);
        var cpu = vm.Cpu;
        cpu.MaxTier = tier;
        string description = $"{mode} cpl {cpu.Cpl} {tier}";
        byte[] code = new byte[FuzzMachine.CodeSize];
        if (instructions)
            code = RandomInstructions.Stream(rng, cpu.Bitness, code.Length);
        else
            rng.NextBytes(code);
        vm.Memory.Write(FuzzMachine.CodeBase, code);
        var stop = cpu.Run();
        return $"{description}: {stop}";
    }

    private static string Engine(ulong seed, long budget, Environments[] environments)
    {
        var env = environments[(int)(seed % (ulong)environments.Length)];
        string variation = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var descriptor = new TestDescriptor("fuzz", Category.Special, env, "fuzz guest", [variation], typeof(FuzzGuest));
        var outcome = new TestEngine().Run(new TestInstance(descriptor, env, variation), new RunSettings { InstructionBudget = budget * EngineBudgetFactor });
        string description = $"{GuestEnvironment.Name(env)}: {TestResults.Name(outcome.Result)}";
        if (outcome.Diagnostic is { } d && d.StartsWith("host exception", StringComparison.Ordinal))
            throw new HostException($"{description}, {d}");
        return description;
    }
}
