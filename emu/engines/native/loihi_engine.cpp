// The native Loihi engine: a batch of samples of a LoihiNet, integer for integer as
// emu.loihi_reference, with every size, parameter and weight given at run time.
//
// Compiled once per machine (emu/native/library.py) and called through ctypes. Layers hold
// their compartments in an internal order chosen by the caller (channels last for
// convolutional layers, so that a kernel's output channels are contiguous). Per sample and
// step t: every layer updates from the input delivered at t - 1 (u, v, refractory, reset,
// saturation counts as converters.chips.loihi.step_layer), then every projection delivers
// the spikes of step t into its target's accumulator. Sources sharing one row of synapses
// (pooling windows) count into one emitter that delivers once, times its members' spikes.
// A projection delivers by CSR rows, dense rows or a convolution kernel [KH][C][KW][O]
// (columns reversed).

#include <cstdint>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

constexpr int32_t DECAY_ONE = 4096;
constexpr int32_t U_RANGE = 1 << 23;
constexpr int32_t V_MAX = (1 << 23) - 1;
constexpr int32_t INPUT_RANGE = 1 << 21;
constexpr uint32_t LCG_MULTIPLIER = 1103515245u, LCG_INCREMENT = 12345u;
constexpr uint32_t LCG_MASK = 0x7fffffffu;
constexpr uint32_t RATE_BIN = 8421505u;

enum Encoding : int32_t { BIAS = 0, RATE = 1, SPIKES = 2 };
enum Kind : int32_t { SPARSE = 0, DENSE = 1, CONV = 2 };

}  // namespace

extern "C" {

struct Layer {
    int32_t size, offset, vth, decay_u, decay_v, refractory, reset_zero, pad;
    const int32_t* bias;  // [size], internal order (the bias-encoded input: per sample)
};

struct Projection {
    int32_t kind, source, target, n_emitters, pooled;
    int32_t C, H, W, O, OH, OW, KH, KW, SY, SX, PY, PX;
    const int32_t* emitter_of;  // [source size] emitter of each source, -1: none
    const int32_t* ptr;         // SPARSE: [n_emitters + 1] row starts
    const int32_t* index;       // SPARSE: [nnz] target (internal index in the target layer)
    const int32_t* weight;      // SPARSE: [nnz]; DENSE: [n_emitters][target size]; CONV: kernel
    const int32_t* position;    // CONV: [n_emitters][4] kernel, target offsets, rows, cols
};

struct Net {
    int32_t n_layers, n_projections, timesteps, encoding, n_neurons, n_probes, wide, pad;
    const Layer* layers;
    const Projection* projections;
    const int32_t* probes;  // [n_probes] global internal index of each probed compartment
};

struct Batch {
    int32_t n, threads;
    const int32_t* levels;  // [n][input size] (bias and rate encodings)
    const int64_t* seeds;   // [n][input size] (rate)
    const uint8_t* raster;  // [n][T][input size] (spikes)
    int32_t* counts;        // [n][n_neurons]
    int32_t* per_step;      // [n][T][n_layers]
    uint8_t* output;        // [n][T][output size]
    int64_t* saturation;    // [n_layers][3]: u wraps, v clips, input overflows
    int32_t* probe_u;       // [n][T][n_probes]
    int32_t* probe_v;
    int64_t event_capacity;
    int32_t* events;  // [event_capacity][4]: sample, step, layer, internal neuron
};

}  // extern "C"

namespace {

enum Decay { NONE = 0, FULL = 1, PART = 2 };  // x kept, x gone, x * f / 4096 truncated

template <int D>
inline int32_t decay(int32_t x, int32_t f) {
    if (D == NONE) return x;
    if (D == FULL) return 0;
    // trunc0(x f / 4096) in 32 bits: x = a 4096 + b with b of x's sign
    const int32_t a = x / DECAY_ONE, b = x % DECAY_ONE;
    return a * f + (b * f) / DECAY_ONE;
}

inline int decay_kind(int32_t decay_register) {
    return decay_register == 0 ? NONE : decay_register == DECAY_ONE ? FULL : PART;
}

// One step of a layer's compartments, before the reset: fired[i] = v > vth.
template <class Acc, int DU, int DV>
void integrate(const Layer& L, const int32_t* __restrict bias, int32_t* __restrict u,
               int32_t* __restrict v, int32_t* __restrict refractory, Acc* __restrict inp,
               uint8_t* __restrict fired, int64_t* saturation) {
    const int32_t fu = DECAY_ONE - L.decay_u, fv = DECAY_ONE - L.decay_v, vth = L.vth;
    int32_t overflows = 0, wraps = 0, clips = 0;
    for (int32_t i = 0; i < L.size; i++) {
        const Acc x = inp[i];
        inp[i] = 0;
        overflows += (x < -INPUT_RANGE) | (x >= INPUT_RANGE);
        const Acc raw = decay<DU>(u[i], fu) + x;
        wraps += (raw < -U_RANGE) | (raw >= U_RANGE);
        const int32_t uw = int32_t(((int64_t(raw) + U_RANGE) & (2 * int64_t(U_RANGE) - 1)) - U_RANGE);
        const int32_t vr = decay<DV>(v[i], fv) + uw + bias[i];
        clips += (vr > V_MAX) | (vr < -V_MAX);
        const int32_t held = refractory[i] > 0;
        int32_t vc = vr > V_MAX ? V_MAX : vr;
        vc = vc < -V_MAX ? -V_MAX : vc;
        vc = held ? 0 : vc;
        refractory[i] = held ? refractory[i] - 1 : 0;
        u[i] = uw;
        v[i] = vc;
        fired[i] = vc > vth;
    }
    saturation[0] += wraps;
    saturation[1] += clips;
    saturation[2] += overflows;
}

template <class Acc, int DU>
void integrate_dv(int dv, const Layer& L, const int32_t* bias, int32_t* u, int32_t* v,
                  int32_t* r, Acc* inp, uint8_t* fired, int64_t* sat) {
    if (dv == NONE) integrate<Acc, DU, NONE>(L, bias, u, v, r, inp, fired, sat);
    else if (dv == FULL) integrate<Acc, DU, FULL>(L, bias, u, v, r, inp, fired, sat);
    else integrate<Acc, DU, PART>(L, bias, u, v, r, inp, fired, sat);
}

template <class Acc>
void integrate_any(const Layer& L, const int32_t* bias, int32_t* u, int32_t* v, int32_t* r,
                   Acc* inp, uint8_t* fired, int64_t* sat) {
    const int du = decay_kind(L.decay_u), dv = decay_kind(L.decay_v);
    if (du == NONE) integrate_dv<Acc, NONE>(dv, L, bias, u, v, r, inp, fired, sat);
    else if (du == FULL) integrate_dv<Acc, FULL>(dv, L, bias, u, v, r, inp, fired, sat);
    else integrate_dv<Acc, PART>(dv, L, bias, u, v, r, inp, fired, sat);
}

// The indices of fired compartments: eight flags skipped at a time where none fired,
// else written without branches (spikes are too frequent for a branch per flag).
int32_t fired_list(const uint8_t* __restrict fired, int32_t n, int32_t* __restrict out) {
    int32_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        std::memcpy(&word, fired + i, 8);
        if (!word) continue;
        for (int32_t b = 0; b < 8; b++) {
            out[count] = i + b;
            count += fired[i + b];
        }
    }
    for (; i < n; i++) {
        out[count] = i;
        count += fired[i];
    }
    return count;
}

void reset(const Layer& L, const int32_t* spikes, int32_t n, int32_t* v, int32_t* refractory) {
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = spikes[k];
        if (L.reset_zero) {
            v[i] = 0;
            refractory[i] = L.refractory - 1;
        } else {
            v[i] -= L.vth;
        }
    }
}

// --- delivery of one projection's emitters (e, m): m spikes of emitter e ---------------

template <class Acc>
void deliver_sparse(const Projection& p, const int32_t* em, const int32_t* m, int32_t n,
                    Acc* __restrict inp) {
    for (int32_t a = 0; a < n; a++) {
        const int32_t e = em[a];
        const Acc mult = m[a];
        const int32_t* __restrict idx = p.index + p.ptr[e];
        const int32_t* __restrict w = p.weight + p.ptr[e];
        const int32_t len = p.ptr[e + 1] - p.ptr[e];
        for (int32_t j = 0; j < len; j++) inp[idx[j]] += mult * w[j];
    }
}

// d[j] += m w[j]: a function of its own, so that the compiler vectorizes it rather than
// fusing the rows of several emitters into one scalar loop.
template <class Acc>
__attribute__((noinline)) void add_row(Acc* __restrict d, const int32_t* __restrict w, Acc m,
                                       int32_t n) {
    for (int32_t j = 0; j < n; j++) d[j] += m * w[j];
}

template <class Acc>
void deliver_dense(const Projection& p, int32_t size, const int32_t* em, const int32_t* m,
                   int32_t n, Acc* __restrict inp) {
    for (int32_t a = 0; a < n; a++) add_row<Acc>(inp, p.weight + int64_t(em[a]) * size, m[a], size);
}

// inp[oy, ox, o] += m K[ky, c, KW - 1 - kx, o] over every kernel offset that reaches a target.
// An emitter's table row: kernel offset at (top row, first column), target offset of the
// first row's first column, rows, columns. Rows go down the targets (up the kernel);
// columns go right along the targets, which with stride 1 makes a row one contiguous run.
template <class Acc, bool MULT>
void deliver_conv(const Projection& p, const int32_t* em, const int32_t* m, int32_t n,
                  Acc* __restrict inp) {
    const int32_t O = p.O, SX = p.SX;
    const int64_t k_row = -int64_t(p.SY) * p.C * p.KW * O, d_row = int64_t(p.OW) * O;
    for (int32_t a = 0; a < n; a++) {
        const int32_t* q = p.position + 4 * int64_t(em[a]);
        const int32_t* __restrict k = p.weight + q[0];
        Acc* __restrict d = inp + q[1];
        const int32_t rows = q[2], cols = q[3];
        const Acc mult = MULT ? m[a] : 1;
        for (int32_t r = 0; r < rows; r++, k += k_row, d += d_row) {
            if (SX == 1) {
#pragma GCC ivdep
                for (int32_t i = 0; i < cols * O; i++) d[i] += MULT ? mult * k[i] : k[i];
                continue;
            }
            for (int32_t j = 0; j < cols; j++) {
                const int32_t* __restrict kk = k + int64_t(j) * SX * O;
                Acc* __restrict dd = d + int64_t(j) * O;
#pragma GCC ivdep
                for (int32_t o = 0; o < O; o++) dd[o] += MULT ? mult * kk[o] : kk[o];
            }
        }
    }
}

// Per-sample working memory of one thread.
template <class Acc>
struct Workspace {
    std::vector<int32_t> u, v, refractory, bias0, spikes, n_spikes, em, m, count;
    std::vector<Acc> inp;
    std::vector<uint8_t> fired;
    std::vector<uint32_t> rng;
    std::vector<int64_t> saturation;

    Workspace(const Net& net)
        : u(net.n_neurons), v(net.n_neurons), refractory(net.n_neurons),
          bias0(net.layers[0].size), spikes(net.n_neurons), n_spikes(net.n_layers),
          em(net.n_neurons), m(net.n_neurons), count(max_emitters(net)), inp(net.n_neurons),
          fired(net.n_neurons), rng(net.layers[0].size), saturation(3 * net.n_layers) {}

    static int32_t max_emitters(const Net& net) {
        int32_t most = 1;
        for (int32_t k = 0; k < net.n_projections; k++)
            most = net.projections[k].n_emitters > most ? net.projections[k].n_emitters : most;
        return most;
    }
};

// The spikes of the input neurons at one step (rate generators or a given raster).
template <class Acc>
int32_t input_spikes(const Net& net, const Batch& b, int32_t s, int32_t t, Workspace<Acc>& w) {
    const int32_t n = net.layers[0].size;
    uint8_t* fired = w.fired.data();
    if (net.encoding == RATE) {
        const int32_t* level = b.levels + int64_t(s) * n;
        uint32_t* r = w.rng.data();
        for (int32_t i = 0; i < n; i++) {
            r[i] = (r[i] * LCG_MULTIPLIER + LCG_INCREMENT) & LCG_MASK;
            fired[i] = int32_t(r[i] / RATE_BIN) < level[i];
        }
    } else {
        fired = const_cast<uint8_t*>(b.raster + (int64_t(s) * net.timesteps + t) * n);
    }
    return fired_list(fired, n, w.spikes.data());
}

// Emitters of one projection's source spikes, with their spike counts.
template <class Acc>
int32_t emitters(const Projection& p, const int32_t* spikes, int32_t n, Workspace<Acc>& w) {
    int32_t* em = w.em.data();
    int32_t* m = w.m.data();
    int32_t active = 0;
    if (!p.pooled) {
        for (int32_t k = 0; k < n; k++) {
            const int32_t e = p.emitter_of[spikes[k]];
            if (e >= 0) {
                em[active] = e;
                m[active++] = 1;
            }
        }
        return active;
    }
    int32_t* count = w.count.data();
    for (int32_t k = 0; k < n; k++) {
        const int32_t e = p.emitter_of[spikes[k]];
        if (e >= 0 && count[e]++ == 0) em[active++] = e;
    }
    for (int32_t a = 0; a < active; a++) {
        m[a] = count[em[a]];
        count[em[a]] = 0;
    }
    return active;
}

template <class Acc>
void deliver(const Net& net, Workspace<Acc>& w) {
    for (int32_t k = 0; k < net.n_projections; k++) {
        const Projection& p = net.projections[k];
        const Layer& src = net.layers[p.source];
        const Layer& tgt = net.layers[p.target];
        const int32_t n = emitters(p, w.spikes.data() + src.offset, w.n_spikes[p.source], w);
        if (!n) continue;
        Acc* inp = w.inp.data() + tgt.offset;
        if (p.kind == SPARSE) deliver_sparse(p, w.em.data(), w.m.data(), n, inp);
        else if (p.kind == DENSE) deliver_dense(p, tgt.size, w.em.data(), w.m.data(), n, inp);
        else if (p.pooled) deliver_conv<Acc, true>(p, w.em.data(), w.m.data(), n, inp);
        else deliver_conv<Acc, false>(p, w.em.data(), w.m.data(), n, inp);
    }
}

// Counts, per-step totals, output raster, events and probes of one step.
template <class Acc>
void record(const Net& net, const Batch& b, int32_t s, int32_t t, Workspace<Acc>& w,
            int64_t* n_events) {
    const int32_t T = net.timesteps, L = net.n_layers;
    int32_t* counts = b.counts + int64_t(s) * net.n_neurons;
    for (int32_t k = 0; k < L; k++) {
        const Layer& layer = net.layers[k];
        const int32_t* sp = w.spikes.data() + layer.offset;
        const int32_t n = w.n_spikes[k];
        b.per_step[(int64_t(s) * T + t) * L + k] = n;
        for (int32_t j = 0; j < n; j++) counts[layer.offset + sp[j]]++;
        if (k == L - 1) {
            uint8_t* out = b.output + (int64_t(s) * T + t) * layer.size;
            for (int32_t j = 0; j < n; j++) out[sp[j]] = 1;
        }
        if (b.events != nullptr && n) {
            int64_t at;
#pragma omp atomic capture
            {
                at = *n_events;
                *n_events += n;
            }
            for (int32_t j = 0; j < n && at + j < b.event_capacity; j++) {
                int32_t* e = b.events + 4 * (at + j);
                e[0] = s, e[1] = t, e[2] = k, e[3] = sp[j];
            }
        }
    }
    for (int32_t q = 0; q < net.n_probes; q++) {
        const int64_t at = (int64_t(s) * T + t) * net.n_probes + q;
        b.probe_u[at] = w.u[net.probes[q]];
        b.probe_v[at] = w.v[net.probes[q]];
    }
}

template <class Acc>
void start_sample(const Net& net, const Batch& b, int32_t s, Workspace<Acc>& w) {
    std::fill(w.u.begin(), w.u.end(), 0);
    std::fill(w.v.begin(), w.v.end(), 0);
    std::fill(w.refractory.begin(), w.refractory.end(), 0);
    std::fill(w.inp.begin(), w.inp.end(), Acc(0));
    const int32_t n = net.layers[0].size;
    for (int32_t i = 0; i < n; i++) {
        if (net.encoding == BIAS) w.bias0[i] = b.levels[int64_t(s) * n + i] << 6;
        if (net.encoding == RATE) w.rng[i] = uint32_t(b.seeds[int64_t(s) * n + i]);
    }
}

template <class Acc>
void run_sample(const Net& net, const Batch& b, int32_t s, Workspace<Acc>& w, int64_t* n_events) {
    start_sample(net, b, s, w);
    for (int32_t t = 0; t < net.timesteps; t++) {
        for (int32_t k = 0; k < net.n_layers; k++) {
            const Layer& L = net.layers[k];
            int32_t* sp = w.spikes.data() + L.offset;
            if (k == 0 && net.encoding != BIAS) {
                w.n_spikes[0] = input_spikes(net, b, s, t, w);
                continue;
            }
            const int32_t* bias = k == 0 ? w.bias0.data() : L.bias;
            const int32_t o = L.offset;
            integrate_any<Acc>(L, bias, &w.u[o], &w.v[o], &w.refractory[o], &w.inp[o],
                               w.fired.data(), &w.saturation[3 * k]);
            w.n_spikes[k] = fired_list(w.fired.data(), L.size, sp);
            reset(L, sp, w.n_spikes[k], &w.v[o], &w.refractory[o]);
        }
        record(net, b, s, t, w, n_events);
        deliver(net, w);
    }
}

template <class Acc>
int64_t run(const Net& net, const Batch& b) {
    int64_t n_events = 0;
    std::vector<int64_t> saturation(3 * net.n_layers, 0);
#pragma omp parallel num_threads(b.threads > 0 ? b.threads : 1)
    {
        Workspace<Acc> w(net);
#pragma omp for schedule(dynamic, 1)
        for (int32_t s = 0; s < b.n; s++) run_sample(net, b, s, w, &n_events);
#pragma omp critical
        for (int32_t k = 0; k < 3 * net.n_layers; k++) saturation[k] += w.saturation[k];
    }
    for (int32_t k = 0; k < 3 * net.n_layers; k++) b.saturation[k] += saturation[k];
    return n_events;
}

}  // namespace

extern "C" {

// Runs a batch; returns the number of spikes (events), which may exceed event_capacity.
int64_t neuroemu_loihi_run(const Net* net, const Batch* batch) {
    return net->wide ? run<int64_t>(*net, *batch) : run<int32_t>(*net, *batch);
}

}  // extern "C"
