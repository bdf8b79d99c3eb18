using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;
using Xtf.Core.Testing.Fuzzing;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Whatever a guest executes ends in an architectural outcome (an exception, a halt, shutdown,
/// budget) and never in a host exception: random bytes are run as code in real mode and in
/// 32-bit protected mode, with fixed seeds so any failure reproduces.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class RandomCodeTests
{
    private const ulong CodeAddress = 0x10000;

    public static IEnumerable<int> Seeds() => Enumerable.Range(0, 64);

    [TestCaseSource(nameof(Seeds))]
    public void RandomBytesInRealModeNeverThrowInTheHost(int seed)
    {
        var vm = NewMachineWithRandomCode(seed);
        var cpu = vm.Cpu;
        cpu.Segments[X86Cpu.CS].LoadReal((ushort)(CodeAddress >> 4));
        cpu.Rip = 0;
        cpu.UpdateMode();
        Assert.DoesNotThrow(() => cpu.Run());
    }

    [TestCaseSource(nameof(Seeds))]
    public void RandomBytesInProtectedModeNeverThrowInTheHost(int seed)
    {
        var cpu = ProtectedModeMachine(seed, ExecutionTier.Compiled).Cpu;
        Assert.DoesNotThrow(() => cpu.Run());
    }

    /// <summary>
    /// The specialised forms and compiled blocks only speed execution up: random code ends in the
    /// same state whatever the CPU's execution tier (see ExecutionTierTests for the forms one by one).
    /// </summary>
    [TestCaseSource(nameof(Seeds))]
    public void RandomBytesEndTheSameInEveryTier(int seed)
    {
        string Outcome(ExecutionTier tier)
        {
            var vm = ProtectedModeMachine(seed, tier);
            var c = vm.Cpu;
            var stop = c.Run();
            var registers = string.Join(" ", Enumerable.Range(0, 8).Select(r => c[r].ToString("x")));
            var bytes = new byte[1 << 20];
            vm.Memory.Read(0, bytes);
            var memory = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));
            return $"{stop} rip={c.Rip:x} {registers} eflags={c.Eflags:x} retired={c.Retired} memory={memory}";
        }

        string reference = Outcome(ExecutionTier.Stepping);
        Assert.That(Outcome(ExecutionTier.Specialised), Is.EqualTo(reference));
        Assert.That(Outcome(ExecutionTier.Compiled), Is.EqualTo(reference));
    }

    private static VirtualMachine ProtectedModeMachine(int seed, ExecutionTier tier)
    {
        var vm = NewMachineWithRandomCode(seed);
        // A flat GDT (null, code 0x08, data 0x10) and an IDT pointing every vector into the code.
        for (int v = 0; v < 256; v++)
        {
            var gate = SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, 0x08, (uint)CodeAddress + (uint)(v * 13 % 4000), 0);
            vm.Memory.Write(0x2000 + (ulong)(v * 8), BitConverter.GetBytes(gate.Raw));
        }

        FlatProtectedMode.Enter(vm, CodeAddress, tier);
        vm.Cpu.Idtr.Base = 0x2000;
        vm.Cpu.Idtr.Limit = 0x7FF;
        return vm;
    }

    private static VirtualMachine NewMachineWithRandomCode(int seed)
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = 16ul << 20, InstructionBudget = 20_000 });
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        vm.Memory.Write(CodeAddress, bytes);
        return vm;
    }
}
