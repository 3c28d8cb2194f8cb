namespace Dien.Kernels.Primitives;

#if NET9_0_OR_GREATER
/// <summary>
/// The float exponential's constants, shared by its register widths (<c>VectorOps.ExpSingle</c>): the range where e^x
/// is a normal float, log2(e), ln 2 split in a high and a low part (Cody-Waite), and Cephes' expf polynomial.
/// </summary>
internal static class ExpConstants
{
    public const float High = 88.3762626647949f;
    public const float Low = -87.3365447f;
    public const float Log2E = 1.44269504088896341f;
    public const float Ln2High = -0.693359375f;
    public const float Ln2Low = 2.12194440e-4f;
    public const float P0 = 1.9875691500E-4f;
    public const float P1 = 1.3981999507E-3f;
    public const float P2 = 8.3334519073E-3f;
    public const float P3 = 4.1665795894E-2f;
    public const float P4 = 1.6666665459E-1f;
    public const float P5 = 5.0000001201E-1f;
}
#endif
