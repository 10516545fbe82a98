//! richards: the Are-We-Fast-Yet Richards benchmark: Martin Richards'
//! simulation of an operating system's task scheduler (an idle task, a
//! worker, two handlers and two devices passing packets), with the idle
//! task counting down from n (AWFY's count is 10000). The checksum is
//! hold_count * 100000 + queue_packet_count (9297 and 23246 for 10000).
//! Without a heap, tasks and packets live in arrays and link by index; a
//! task's function is chosen by the variant of its private data.

const IDLER: usize = 0;
const WORKER: usize = 1;
const HANDLER_A: usize = 2;
const HANDLER_B: usize = 3;
const DEVICE_A: usize = 4;
const DEVICE_B: usize = 5;
const NUM_TASKS: usize = 6;

const DATA_SIZE: usize = 4;
const NUM_PACKETS: usize = 8;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum PacketKind {
    #[default]
    Device,
    Work,
}

#[derive(Clone, Copy, Default)]
struct Packet {
    link: Option<usize>,
    identity: usize,
    kind: PacketKind,
    datum: i32,
    data: [i32; DATA_SIZE],
}

/// A task's private data; the variant is the task's function.
#[derive(Clone, Copy, Default)]
enum TaskData {
    /// No task made yet.
    #[default]
    Unused,
    Device {
        pending: Option<usize>,
    },
    Handler {
        work_in: Option<usize>,
        device_in: Option<usize>,
    },
    Idle {
        control: i32,
        count: i32,
    },
    Worker {
        destination: usize,
        count: i32,
    },
}

#[derive(Clone, Copy, Default)]
struct TaskState {
    packet_pending: bool,
    task_waiting: bool,
    task_holding: bool,
}

impl TaskState {
    fn packet_pending() -> Self {
        TaskState {
            packet_pending: true,
            task_waiting: false,
            task_holding: false,
        }
    }

    fn running() -> Self {
        TaskState {
            packet_pending: false,
            task_waiting: false,
            task_holding: false,
        }
    }

    fn waiting() -> Self {
        TaskState {
            packet_pending: false,
            task_waiting: true,
            task_holding: false,
        }
    }

    fn waiting_with_packet() -> Self {
        TaskState {
            packet_pending: true,
            task_waiting: true,
            task_holding: false,
        }
    }

    fn is_task_holding_or_waiting(&self) -> bool {
        self.task_holding || (!self.packet_pending && self.task_waiting)
    }

    fn is_waiting_with_packet(&self) -> bool {
        self.packet_pending && self.task_waiting && !self.task_holding
    }
}

#[derive(Clone, Copy, Default)]
struct TaskControlBlock {
    link: Option<usize>,
    identity: usize,
    priority: i32,
    input: Option<usize>,
    state: TaskState,
    data: TaskData,
}

struct Scheduler {
    tasks: [TaskControlBlock; NUM_TASKS],
    packets: [Packet; NUM_PACKETS],
    packet_count: usize,
    task_list: Option<usize>,
    current_task: usize,
    current_task_identity: usize,
    queue_packet_count: i32,
    hold_count: i32,
}

impl Scheduler {
    fn new() -> Self {
        Scheduler {
            tasks: [TaskControlBlock::default(); NUM_TASKS],
            packets: [Packet::default(); NUM_PACKETS],
            packet_count: 0,
            task_list: None,
            current_task: 0,
            current_task_identity: 0,
            queue_packet_count: 0,
            hold_count: 0,
        }
    }

    /// `queue_head` with `packet` appended.
    fn append(&mut self, packet: usize, queue_head: Option<usize>) -> Option<usize> {
        self.packets[packet].link = None;
        let Some(head) = queue_head else {
            return Some(packet);
        };
        let mut mouse = head;
        while let Some(link) = self.packets[mouse].link {
            mouse = link;
        }
        self.packets[mouse].link = Some(packet);
        Some(head)
    }

    fn create_packet(&mut self, link: Option<usize>, identity: usize, kind: PacketKind) -> usize {
        let p = self.packet_count;
        self.packet_count += 1;
        self.packets[p] = Packet {
            link,
            identity,
            kind,
            datum: 0,
            data: [0; DATA_SIZE],
        };
        p
    }

    fn create_task(
        &mut self,
        identity: usize,
        priority: i32,
        work: Option<usize>,
        state: TaskState,
        data: TaskData,
    ) {
        self.tasks[identity] = TaskControlBlock {
            link: self.task_list,
            identity,
            priority,
            input: work,
            state,
            data,
        };
        self.task_list = Some(identity);
    }

    /// Runs the system until every task waits or holds, the idle task
    /// counting down from `idle_count`.
    fn start(&mut self, idle_count: i32) {
        let idle = TaskData::Idle {
            control: 1,
            count: idle_count,
        };
        self.create_task(IDLER, 0, None, TaskState::running(), idle);
        let mut work_q = self.create_packet(None, WORKER, PacketKind::Work);
        work_q = self.create_packet(Some(work_q), WORKER, PacketKind::Work);
        let worker = TaskData::Worker {
            destination: HANDLER_A,
            count: 0,
        };
        self.create_task(
            WORKER,
            1000,
            Some(work_q),
            TaskState::waiting_with_packet(),
            worker,
        );

        for (handler, device, priority) in
            [(HANDLER_A, DEVICE_A, 2000), (HANDLER_B, DEVICE_B, 3000)]
        {
            work_q = self.create_packet(None, device, PacketKind::Device);
            work_q = self.create_packet(Some(work_q), device, PacketKind::Device);
            work_q = self.create_packet(Some(work_q), device, PacketKind::Device);
            let data = TaskData::Handler {
                work_in: None,
                device_in: None,
            };
            self.create_task(
                handler,
                priority,
                Some(work_q),
                TaskState::waiting_with_packet(),
                data,
            );
        }

        let device = TaskData::Device { pending: None };
        self.create_task(DEVICE_A, 4000, None, TaskState::waiting(), device);
        self.create_task(DEVICE_B, 5000, None, TaskState::waiting(), device);

        self.schedule();
    }

    fn hold_self(&mut self) -> Option<usize> {
        self.hold_count += 1;
        let current = &mut self.tasks[self.current_task];
        current.state.task_holding = true;
        current.link
    }

    fn queue_packet(&mut self, packet: usize) -> Option<usize> {
        let t = self.packets[packet].identity;
        self.queue_packet_count += 1;
        self.packets[packet].link = None;
        self.packets[packet].identity = self.current_task_identity;
        Some(self.add_input_and_check_priority(t, packet, self.current_task))
    }

    fn add_input_and_check_priority(&mut self, t: usize, packet: usize, old_task: usize) -> usize {
        match self.tasks[t].input {
            None => {
                self.tasks[t].input = Some(packet);
                self.tasks[t].state.packet_pending = true;
                if self.tasks[t].priority > self.tasks[old_task].priority {
                    return t;
                }
            }
            Some(input) => self.tasks[t].input = self.append(packet, Some(input)),
        }
        old_task
    }

    fn release(&mut self, t: usize) -> Option<usize> {
        self.tasks[t].state.task_holding = false;
        if self.tasks[t].priority > self.tasks[self.current_task].priority {
            return Some(t);
        }
        Some(self.current_task)
    }

    fn mark_waiting(&mut self) -> Option<usize> {
        self.tasks[self.current_task].state.task_waiting = true;
        Some(self.current_task)
    }

    fn run_task(&mut self, t: usize) -> Option<usize> {
        let mut message = None;
        if self.tasks[t].state.is_waiting_with_packet() {
            if let Some(input) = self.tasks[t].input {
                message = Some(input);
                self.tasks[t].input = self.packets[input].link;
            }
            self.tasks[t].state = if self.tasks[t].input.is_none() {
                TaskState::running()
            } else {
                TaskState::packet_pending()
            };
        }
        // The function works on the task's data, taken out meanwhile.
        let mut data = self.tasks[t].data;
        let next = match &mut data {
            TaskData::Unused => None,
            TaskData::Device { pending } => self.device_function(pending, message),
            TaskData::Handler { work_in, device_in } => {
                self.handler_function(work_in, device_in, message)
            }
            TaskData::Idle { control, count } => self.idle_function(control, count),
            TaskData::Worker { destination, count } => {
                self.worker_function(destination, count, message)
            }
        };
        self.tasks[t].data = data;
        next
    }

    fn device_function(
        &mut self,
        pending: &mut Option<usize>,
        work: Option<usize>,
    ) -> Option<usize> {
        let Some(work) = work else {
            let Some(packet) = pending.take() else {
                return self.mark_waiting();
            };
            return self.queue_packet(packet);
        };
        *pending = Some(work);
        self.hold_self()
    }

    fn handler_function(
        &mut self,
        work_in: &mut Option<usize>,
        device_in: &mut Option<usize>,
        work: Option<usize>,
    ) -> Option<usize> {
        if let Some(work) = work {
            if self.packets[work].kind == PacketKind::Work {
                *work_in = self.append(work, *work_in);
            } else {
                *device_in = self.append(work, *device_in);
            }
        }
        let Some(work_packet) = *work_in else {
            return self.mark_waiting();
        };
        let count = self.packets[work_packet].datum;
        if count >= DATA_SIZE as i32 {
            *work_in = self.packets[work_packet].link;
            return self.queue_packet(work_packet);
        }
        let Some(device_packet) = *device_in else {
            return self.mark_waiting();
        };
        *device_in = self.packets[device_packet].link;
        self.packets[device_packet].datum = self.packets[work_packet].data[count as usize];
        self.packets[work_packet].datum = count + 1;
        self.queue_packet(device_packet)
    }

    fn idle_function(&mut self, control: &mut i32, count: &mut i32) -> Option<usize> {
        *count -= 1;
        if *count == 0 {
            return self.hold_self();
        }
        if *control & 1 == 0 {
            *control /= 2;
            return self.release(DEVICE_A);
        }
        *control = (*control / 2) ^ 53256;
        self.release(DEVICE_B)
    }

    fn worker_function(
        &mut self,
        destination: &mut usize,
        count: &mut i32,
        work: Option<usize>,
    ) -> Option<usize> {
        let Some(work) = work else {
            return self.mark_waiting();
        };
        *destination = if *destination == HANDLER_A {
            HANDLER_B
        } else {
            HANDLER_A
        };
        let packet = &mut self.packets[work];
        packet.identity = *destination;
        packet.datum = 0;
        for datum in packet.data.iter_mut() {
            *count += 1;
            if *count > 26 {
                *count = 1;
            }
            *datum = 65 + *count - 1;
        }
        self.queue_packet(work)
    }

    fn schedule(&mut self) {
        let mut task = self.task_list;
        while let Some(t) = task {
            self.current_task = t;
            if self.tasks[t].state.is_task_holding_or_waiting() {
                task = self.tasks[t].link;
            } else {
                self.current_task_identity = self.tasks[t].identity;
                task = self.run_task(t);
            }
        }
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut scheduler = Scheduler::new();
    scheduler.start(n);
    scheduler.hold_count * 100_000 + scheduler.queue_packet_count
}

pub fn verify(result: i32) -> bool {
    result == 367209182
}
