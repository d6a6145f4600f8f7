# frozen_string_literal: true

# labctl: Vagrant's docker provider asks Docker for the same listings over and
# over. Each machine's state check runs `docker ps -q --no-trunc` and
# `docker ps -a -q --no-trunc`, and every action step asks again, so a 20-node
# `vagrant up --parallel` starts about 1300 docker processes, 1000 of them
# these two listings, each a full Docker client start on a 2-core host.
#
# This file, loaded by the rendered Vagrantfile on the docker provider only,
# shares those answers between the threads of one Vagrant process:
#
# - Only exactly `docker ps -a -q --no-trunc`, `docker ps -q --no-trunc` and
#   `docker inspect ID` are cached, and only when called plainly (no options,
#   no block); everything else goes straight to Docker.
# - An answer is reused for at most LABCTL_LISTING_TTL seconds (default 1;
#   0 turns the cache off), counted from when its docker call started.
# - One call per listing is in flight at a time: threads asking for the same
#   listing wait for the one running call and share its answer.
# - Every docker command that may change something (anything but ps, inspect,
#   images, version, info, logs) bumps a generation counter before it starts
#   and after it ends; an answer is used only while the generation is the one
#   it was fetched in. So no listing started before or during a change made
#   by this process is ever returned after that change began.
#
# Changes made outside this Vagrant process (another labctl, `docker rm` by
# hand) are seen after at most the TTL, as if Docker had been asked that much
# earlier, which Vagrant's own listings already are by the time it acts on
# them.
module LabctlDockerListing
  # Docker subcommands that only read.
  READS = %w[ps inspect images version info logs].freeze
  LISTINGS = [%w[docker ps -a -q --no-trunc], %w[docker ps -q --no-trunc]].freeze

  DEFAULT_TTL = 1.0

  # The seconds an answer may be reused, from LABCTL_LISTING_TTL
  # (labctl-env-seconds.rb: nonsense means the default).
  def self.ttl
    LabctlEnvSeconds.read('LABCTL_LISTING_TTL', DEFAULT_TTL)
  end

  # The cache key of a command that may be answered from the cache, or nil.
  def self.cached_form(cmd, opts, block)
    return nil unless opts.empty? && block.nil? && cmd.all? { |a| a.is_a?(String) }
    return cmd.dup.freeze if LISTINGS.include?(cmd)
    if cmd.size == 3 && cmd[0] == 'docker' && cmd[1] == 'inspect' && !cmd[2].start_with?('-')
      return cmd.dup.freeze
    end
    nil
  end

  # Whether a command may change what Docker lists.
  def self.change?(cmd)
    cmd[0] == 'docker' && !READS.include?(cmd[1].to_s)
  end

  # Answers by command, with the generation they were fetched in.
  class Cache
    Entry = Struct.new(:generation, :started, :output)

    def initialize
      @lock = Mutex.new # guards @generation, @entries and @in_flight
      @generation = 0
      @entries = {}
      @in_flight = {}
    end

    def bump
      @lock.synchronize { @generation += 1 }
    end

    # The answer to `key`: a fresh cached one, or the one `yield` fetches
    # (which other threads asking for `key` meanwhile wait for and share).
    def fetch(key, ttl)
      in_flight = @lock.synchronize { @in_flight[key] ||= Mutex.new }
      in_flight.synchronize do
        hit = @lock.synchronize do
          e = @entries[key]
          e.output if e && e.generation == @generation && now - e.started < ttl
        end
        # Callers own what they get (Vagrant's code may modify it in place).
        return hit.dup if hit

        generation, started = @lock.synchronize { [@generation, now] }
        output = yield
        if output.is_a?(String)
          @lock.synchronize { @entries[key] = Entry.new(generation, started, output.dup.freeze) }
        end
        output
      end
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end

  CACHE = Cache.new

  # Prepended onto the docker provider's driver, whose every docker command
  # goes through `execute`.
  module Execute
    def execute(*cmd, **opts, &block)
      ttl = LabctlDockerListing.ttl
      return super(*cmd, **opts, &block) if ttl.zero?

      key = LabctlDockerListing.cached_form(cmd, opts, block)
      return CACHE.fetch(key, ttl) { super(*cmd, **opts, &block) } if key

      return super(*cmd, **opts, &block) unless LabctlDockerListing.change?(cmd)

      CACHE.bump
      begin
        super(*cmd, **opts, &block)
      ensure
        CACHE.bump
      end
    end
  end
end

# The provider's classes load on first use; loading the driver here lets the
# module be prepended before any machine asks for it. Without Vagrant (tests
# with a stand-in driver) the caller defines the class first.
if defined?(Vagrant) && !defined?(VagrantPlugins::DockerProvider::Driver)
  require Vagrant.source_root.join('plugins/providers/docker/driver').to_s
end
VagrantPlugins::DockerProvider::Driver.prepend(LabctlDockerListing::Execute)
